import { describe, expect, it } from "vitest";
import {
  ADOPTED_SELECTOR_ANNOTATION,
  adoptionPatch,
  ROLLOUT_LABEL,
  releasePatch,
  ServiceNotAdoptableError,
} from "../../../src/workloads/adoption.ts";
import type { Service } from "../../../src/workloads/services.ts";

/** RFC 7386 merge patch, as the API server applies it: null removes, objects merge, the rest replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

const apply = (service: Service, patch: object | undefined): Service =>
  patch ? (mergePatch(service, patch) as Service) : service;

/** A user's Service the Argo way: selects every pod of the app, carries labels and annotations of its own. */
const userService: Service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: "podinfo-stable",
    namespace: "shop",
    resourceVersion: "7",
    labels: { team: "web" },
    annotations: { "example.com/owner": "web" },
  },
  spec: {
    selector: { app: "podinfo", tier: "frontend" },
    ports: [{ name: "http", port: 80, targetPort: 9898 }],
  },
};
const STABLE = { app: "podinfo-primary" };

describe("adopting a user's Service", () => {
  it("points the selector at the stable pods, saves the original and labels the Service", () => {
    const adopted = apply(userService, adoptionPatch(userService, STABLE, "podinfo", 80));
    expect(adopted.spec).toEqual({ selector: STABLE, ports: userService.spec.ports });
    expect(adopted.metadata.labels).toEqual({ team: "web", [ROLLOUT_LABEL]: "podinfo" });
    expect(JSON.parse(adopted.metadata.annotations![ADOPTED_SELECTOR_ANNOTATION]!)).toEqual({
      app: "podinfo",
      tier: "frontend",
    });
    expect(adopted.metadata.ownerReferences).toBeUndefined();
  });

  it("is conditional on the version read", () => {
    expect(adoptionPatch(userService, STABLE, "podinfo", 80)?.metadata.resourceVersion).toBe("7");
  });

  it("writes nothing when already adopted and selecting the pods", () => {
    const adopted = apply(userService, adoptionPatch(userService, STABLE, "podinfo", 80));
    expect(adoptionPatch(adopted, STABLE, "podinfo", 80)).toBeUndefined();
  });

  it("keeps the saved original when adopting again (a restart, or the selector edited back)", () => {
    const adopted = apply(userService, adoptionPatch(userService, STABLE, "podinfo", 80));
    const edited = apply(adopted, { spec: { selector: { app: "podinfo", tier: null } } });
    const patch = adoptionPatch(edited, STABLE, "podinfo", 80);
    expect(patch?.metadata.annotations).toBeUndefined();
    const again = apply(edited, patch);
    expect(again.spec.selector).toEqual(STABLE);
    expect(again.metadata.annotations).toEqual(adopted.metadata.annotations);
  });

  it("refuses a Service without the rollout's port, saying what to change", () => {
    const adopt = () => adoptionPatch(userService, STABLE, "podinfo", 8080);
    expect(adopt).toThrow(ServiceNotAdoptableError);
    expect(adopt).toThrow(
      "Service podinfo-stable has no port 8080 (its ports: 80); add port 8080 to it or set spec.service.port to one of its ports",
    );
  });

  it("refuses a Service another Rollout adopted", () => {
    const adopted = apply(userService, adoptionPatch(userService, STABLE, "other", 80));
    expect(() => adoptionPatch(adopted, STABLE, "podinfo", 80)).toThrow(
      "Service podinfo-stable is already adopted by Rollout other; give this Rollout another Service name in spec.traffic",
    );
  });
});

describe("releasing an adopted Service", () => {
  it("restores the Service exactly as the user wrote it", () => {
    const adopted = apply(userService, adoptionPatch(userService, STABLE, "podinfo", 80));
    const released = apply(adopted, releasePatch(adopted, "podinfo"));
    expect(released).toEqual(userService);
  });

  it("restores a Service that had no selector", () => {
    const { selector: _, ...spec } = userService.spec;
    const headless: Service = { ...userService, spec };
    const adopted = apply(headless, adoptionPatch(headless, STABLE, "podinfo", 80));
    expect(adopted.metadata.annotations?.[ADOPTED_SELECTOR_ANNOTATION]).toBe("null");
    expect(apply(adopted, releasePatch(adopted, "podinfo"))).toEqual(headless);
  });

  it("is idempotent, and leaves alone what it did not adopt", () => {
    const adopted = apply(userService, adoptionPatch(userService, STABLE, "podinfo", 80));
    const released = apply(adopted, releasePatch(adopted, "podinfo"));
    expect(releasePatch(released, "podinfo")).toBeUndefined();
    expect(releasePatch(userService, "podinfo")).toBeUndefined();
    expect(releasePatch(adopted, "other")).toBeUndefined();
  });

  it("names the annotation when it is not JSON", () => {
    const broken = apply(userService, {
      metadata: {
        labels: { [ROLLOUT_LABEL]: "podinfo" },
        annotations: { [ADOPTED_SELECTOR_ANNOTATION]: "{" },
      },
    });
    expect(() => releasePatch(broken, "podinfo")).toThrow(ADOPTED_SELECTOR_ANNOTATION);
  });
});
