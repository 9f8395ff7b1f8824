/**
 * The controller's record in the route object: one annotation per rollout,
 * `traffic.stepwise.dev/<rollout>`, holding what the controller last set. It lets a restarted
 * controller tell its own changes from someone else's (drift), and lets finalize give the user back
 * the weights they wrote. Finalize removes it.
 */
import type { KubeObject } from "../kube/client.ts";
import { isRecord, type PatchBuilder, setAnnotation } from "./patch.ts";
import type { ActiveFault, RequestMatch } from "./traffic-router.ts";

/** A weight as the user wrote it: a value, omitted (no weight field), or no such destination at all. */
export type RawWeight = { value: unknown } | { omitted: true } | { absent: true };

export interface TrafficRecord {
  /**
   * The canary share the controller last asked for (percent of the managed rule's traffic). The object
   * shows it rounded to its weight unit; a share within one unit of it is not drift.
   */
  canary: number;
  /**
   * The weights before the controller first changed them, when they were stable-only: stable and canary,
   * and (relative weights next to the user's own destinations, which a rescale may multiply) those
   * destinations' weights in their order.
   */
  original?: { stable: RawWeight; canary: RawWeight; foreign?: RawWeight[] };
  /** The A/B matches of the match route the controller added. */
  match?: RequestMatch[];
  /** The mirror percentage the controller set. */
  mirror?: number;
  /** The fault the controller set on the route. */
  fault?: ActiveFault;
}

export const RECORD_PREFIX = "traffic.stepwise.dev/";

export function recordKey(rollout: string): string {
  return `${RECORD_PREFIX}${rollout}`;
}

export function readRecord(object: KubeObject, rollout: string): TrafficRecord | undefined {
  const text = object.metadata.annotations?.[recordKey(rollout)];
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isRecord(parsed) || typeof parsed.canary !== "number") return undefined;
    return parsed as unknown as TrafficRecord;
  } catch {
    return undefined;
  }
}

/** Writes the record (or removes it with `undefined`). */
export function writeRecord(builder: PatchBuilder, rollout: string, record: TrafficRecord | undefined): void {
  setAnnotation(builder, recordKey(rollout), record && JSON.stringify(compact(record)));
}

function compact(record: TrafficRecord): TrafficRecord {
  const out: TrafficRecord = { canary: record.canary };
  if (record.original) out.original = record.original;
  if (record.match) out.match = record.match;
  if (record.mirror !== undefined) out.mirror = record.mirror;
  if (record.fault) out.fault = record.fault;
  return out;
}
