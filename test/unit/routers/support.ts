/** Shared test support for the router tests: fixtures, contexts, a server that applies JSON patches. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import jsonpatch, { type Operation } from "fast-json-patch";
import { parse, parseAllDocuments } from "yaml";
import type { KubeObject } from "../../../src/kube/client.ts";
import type { IstioContext } from "../../../src/routers/istio/virtual-service.ts";
import type { PatchBuilder } from "../../../src/routers/patch.ts";
import type { RouterContext } from "../../../src/routers/traffic-router.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/routers/", import.meta.url));
/** Objects copied from upstream projects' docs and examples (each file names its source). */
export const UPSTREAM = fileURLToPath(new URL("../../fixtures/upstream/", import.meta.url));

/** A fixture object as the server would hold it (resourceVersion "1"). */
export function fixture(name: string): KubeObject {
  const object = parse(readFileSync(`${FIXTURES}${name}.yaml`, "utf8")) as KubeObject;
  object.metadata.resourceVersion = "1";
  return object;
}

/** A fixture as written (for creating it on the emulator). */
export function fixtureSource(name: string): KubeObject {
  return parse(readFileSync(`${FIXTURES}${name}.yaml`, "utf8")) as KubeObject;
}

/** The document of `kind` in an upstream fixture file (`istio/flagger-frontend.yaml`), as written. */
export function upstream(file: string, kind: string): KubeObject {
  const docs = parseAllDocuments(readFileSync(`${UPSTREAM}${file}`, "utf8")).map(
    (d) => d.toJS() as KubeObject,
  );
  const found = docs.find((d) => d.kind === kind);
  if (!found) throw new Error(`${file} has no ${kind}`);
  return found;
}

export function context(overrides: Partial<RouterContext> = {}): RouterContext {
  return {
    rollout: "checkout",
    namespace: "shop",
    service: "checkout",
    port: 8080,
    stableService: "checkout-primary",
    canaryService: "checkout-canary",
    faultService: "checkout-fault",
    ...overrides,
  };
}

export function istioContext(
  mode: "host" | "subset" = "host",
  overrides: Partial<IstioContext> = {},
): IstioContext {
  return { ...context(), mode, subsets: { stable: "primary", canary: "canary" }, ...overrides };
}

/**
 * What the API server does with a JSON patch: apply every operation (a failed `test` rejects the whole
 * patch) and bump the resourceVersion.
 */
export function applyPatch<T extends KubeObject>(object: T, builder: PatchBuilder): T {
  const result = jsonpatch.applyPatch(
    structuredClone(object),
    builder.ops as Operation[],
    true,
    false,
  ).newDocument;
  result.metadata.resourceVersion = String(Number(object.metadata.resourceVersion ?? "0") + 1);
  return result;
}

/** The object without its resourceVersion, for comparisons. */
export function withoutVersion(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  delete copy.metadata.resourceVersion;
  return copy;
}
