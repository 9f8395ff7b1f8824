import { isDeepStrictEqual } from "node:util";
import type { Service } from "./services.ts";

/**
 * Adopting a user's Service: the controller points its selector at the stable (or canary) pods, saves
 * the selector it replaced in an annotation, and labels the Service with the Rollout's name. No
 * ownerReference is added, so the Service outlives the Rollout; `releasePatch` puts the selector back.
 */
export const ADOPTED_SELECTOR_ANNOTATION = "stepwise.dev/adopted-selector";
export const ROLLOUT_LABEL = "stepwise.dev/rollout";

/** A user's object (a Service, an autoscaler) the rollout cannot use as it is; the message says what to change. */
export class WorkloadConflictError extends Error {
  override name = "WorkloadConflictError";
}

/** A user's Service the rollout cannot use as it is; the message says what to change. */
export class ServiceNotAdoptableError extends WorkloadConflictError {
  override name = "ServiceNotAdoptableError";
  constructor(
    readonly service: string,
    message: string,
  ) {
    super(message);
  }
}

type Selector = Record<string, string>;
type MergePatch = { metadata: Record<string, unknown>; spec?: Record<string, unknown> };

/** A merge patch of a selector from `current` to `desired` (`null` removes a key, or the whole selector). */
function selectorPatch(current: Selector | undefined, desired: Selector | null): Selector | null {
  if (desired === null) return null;
  const removed = Object.keys(current ?? {}).filter((key) => !(key in desired));
  return { ...Object.fromEntries(removed.map((key) => [key, null])), ...desired } as Selector;
}

/**
 * The merge patch that adopts `service` for the rollout `rollout`, selecting the pods of `selector`;
 * undefined when it is already adopted and selects them. The selector saved at the first adoption is
 * never overwritten, so a restart (or a second adoption) keeps the user's original. The user's ports are
 * left alone: a Service without the rollout's `port` is refused.
 */
export function adoptionPatch(
  service: Service,
  selector: Selector,
  rollout: string,
  port: number,
): MergePatch | undefined {
  const { name, annotations, labels, resourceVersion } = service.metadata;
  const saved = annotations?.[ADOPTED_SELECTOR_ANNOTATION];
  const adoptedBy = labels?.[ROLLOUT_LABEL];
  if (saved !== undefined && adoptedBy !== undefined && adoptedBy !== rollout)
    throw new ServiceNotAdoptableError(
      name,
      `Service ${name} is already adopted by Rollout ${adoptedBy}; give this Rollout another Service name in spec.traffic`,
    );
  const ports = service.spec.ports ?? [];
  if (!ports.some((p) => p.port === port))
    throw new ServiceNotAdoptableError(
      name,
      `Service ${name} has no port ${port} (its ports: ${ports.map((p) => p.port).join(", ") || "none"}); ` +
        `add port ${port} to it or set spec.service.port to one of its ports`,
    );
  if (saved !== undefined && adoptedBy === rollout && isDeepStrictEqual(service.spec.selector, selector))
    return undefined;
  return {
    metadata: {
      resourceVersion,
      labels: { [ROLLOUT_LABEL]: rollout },
      ...(saved === undefined
        ? { annotations: { [ADOPTED_SELECTOR_ANNOTATION]: JSON.stringify(service.spec.selector ?? null) } }
        : {}),
    },
    spec: { selector: selectorPatch(service.spec.selector, selector) },
  };
}

/**
 * The merge patch that gives an adopted Service back as it was before the adoption: its saved selector,
 * without the annotation and the label. Undefined when the Service is not adopted by `rollout`.
 */
export function releasePatch(service: Service, rollout: string): MergePatch | undefined {
  const { name, annotations, labels, resourceVersion } = service.metadata;
  const saved = annotations?.[ADOPTED_SELECTOR_ANNOTATION];
  if (saved === undefined || labels?.[ROLLOUT_LABEL] !== rollout) return undefined;
  let original: Selector | null;
  try {
    original = JSON.parse(saved) as Selector | null;
  } catch {
    throw new ServiceNotAdoptableError(
      name,
      `Service ${name}: annotation ${ADOPTED_SELECTOR_ANNOTATION} is not JSON; set it to the selector to restore`,
    );
  }
  return {
    metadata: {
      resourceVersion,
      labels: { [ROLLOUT_LABEL]: null },
      annotations: { [ADOPTED_SELECTOR_ANNOTATION]: null },
    },
    spec: { selector: selectorPatch(service.spec.selector, original) },
  };
}
