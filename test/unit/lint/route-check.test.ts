import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDocuments } from "../../../src/api/documents.ts";
import type { Rollout } from "../../../src/api/rollout.ts";
import { checkRoutes, type LintedObject, type LintedRollout } from "../../../src/lint/route-check.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures");

/** The Rollouts and other documents of files, as lint reads them: `{file: text}`. */
function lintInput(files: Record<string, string>): { rollouts: LintedRollout[]; objects: LintedObject[] } {
  const rollouts: LintedRollout[] = [];
  const objects: LintedObject[] = [];
  for (const [file, text] of Object.entries(files)) {
    for (const document of parseDocuments(text, { otherKinds: "skip" })) {
      expect(document.errors, file).toEqual([]);
      if (document.other) objects.push({ file, line: document.line, object: document.other });
      else if (document.object?.kind === "Rollout" && document.lineOf)
        rollouts.push({
          file,
          line: document.line,
          rollout: document.object as Rollout,
          lineOf: document.lineOf,
        });
    }
  }
  return { rollouts, objects };
}

const fixture = (path: string) => readFileSync(join(FIXTURES, path), "utf8");

/** A Rollout `name` of `provider`, with the traffic lines given (indented under spec.traffic). */
function rolloutYaml(name: string, traffic: string, namespace?: string): string {
  return [
    "apiVersion: stepwise.dev/v1alpha1",
    "kind: Rollout",
    "metadata:",
    `  name: ${name}`,
    ...(namespace ? [`  namespace: ${namespace}`] : []),
    "spec:",
    `  targetRef: {kind: Deployment, name: ${name}}`,
    "  service: {port: 8080}",
    "  traffic:",
    ...traffic.split("\n").map((line) => `    ${line}`),
    "  strategy: {canary: {steps: [{setWeight: 10}]}}",
  ].join("\n");
}

const app = {
  "rollout.yaml": fixture("lint/app/rollout.yaml"),
  "virtual-service.yaml": fixture("lint/app/virtual-service.yaml"),
};

describe("checkRoutes: each Rollout against the route objects given beside it", () => {
  it("the app's Rollout and its VirtualService agree: no problem", () => {
    const { rollouts, objects } = lintInput(app);
    expect(checkRoutes(rollouts, objects)).toEqual([]);
  });

  it("the VirtualService Flagger generates (upstream, unedited) serves a Rollout with the default names as it is", () => {
    const traffic = "provider: istio\nrouteRef: {kind: VirtualService, name: frontend}";
    const { rollouts, objects } = lintInput({
      "r.yaml": rolloutYaml("podinfo", traffic, "test"),
      "vs.yaml": fixture("upstream/flagger/virtual-service-frontend.yaml"),
    });
    expect(objects).toHaveLength(1);
    expect(checkRoutes(rollouts, objects)).toEqual([]);
    // named after another Rollout, it is refused: the check does look at it
    const other = lintInput({
      "r.yaml": rolloutYaml("frontend", traffic, "test"),
      "vs.yaml": fixture("upstream/flagger/virtual-service-frontend.yaml"),
    });
    expect(checkRoutes(other.rollouts, other.objects)).toHaveLength(1);
  });

  it("a route that is not in the object: at the Rollout's routes line, naming the object's file and line", () => {
    const { rollouts, objects } = lintInput({
      ...app,
      "rollout.yaml": app["rollout.yaml"].replace("routes: [main]", "routes: [primary]"),
    });
    expect(checkRoutes(rollouts, objects)).toEqual([
      {
        file: "rollout.yaml",
        line: 11,
        path: "spec.traffic.routes[0]",
        message:
          'VirtualService podinfo (virtual-service.yaml:2): has no http route named "primary"; the routes it names: debug, main',
      },
    ]);
  });

  it("no route to the stable Service: at routeRef, with the remedy; the routes that could be named are listed", () => {
    const rollout = app["rollout.yaml"].replace("    routes: [main]\n", "");
    const withForeign = app["virtual-service.yaml"].replace(
      "          weight: 100",
      "          weight: 90\n        - destination: {host: podinfo-legacy}\n          weight: 10",
    );
    const { rollouts, objects } = lintInput({ "rollout.yaml": rollout, "virtual-service.yaml": withForeign });
    expect(checkRoutes(rollouts, objects)).toEqual([
      {
        file: "rollout.yaml",
        line: 10,
        path: "spec.traffic.routeRef",
        message:
          "VirtualService podinfo (virtual-service.yaml:2): has no http route whose destinations are only podinfo-primary (and podinfo-canary); add such a route, or name the route to manage; its routes with a stable destination, which spec.traffic.routes can name: main",
      },
    ]);
  });

  it("without a routeRef, the object the controller would drive (named after the Rollout) is checked: Istio's bookinfo 80/20", () => {
    const { rollouts, objects } = lintInput({
      "reviews.yaml": rolloutYaml("reviews", "provider: istio"),
      "vs.yaml": fixture("upstream/istio/bookinfo-virtual-service-reviews-80-20.yaml"),
    });
    expect(checkRoutes(rollouts, objects)).toEqual([
      {
        file: "reviews.yaml",
        line: 8,
        path: "spec.traffic",
        message:
          "VirtualService reviews (vs.yaml:3): has no http route whose destinations are only reviews-primary (and reviews-canary); add such a route, or name the route to manage; or set spec.traffic.stableService to the Service the route sends to",
      },
    ]);
  });

  it("in Istio subset mode the remedy is the subsets", () => {
    const argo = fixture("upstream/argo-rollouts/istio-subset-split.yaml");
    const traffic =
      "provider: istio\nrouteRef: {kind: VirtualService, name: istio-subset-split-vsvc}\nistio: {mode: subset}";
    const { rollouts, objects } = lintInput({
      "r.yaml": rolloutYaml("istio-subset-split", traffic),
      "argo.yaml": argo,
    });
    const [problem, ...more] = checkRoutes(rollouts, objects);
    expect(more).toEqual([]);
    expect(problem?.message).toMatch(
      /^VirtualService istio-subset-split-vsvc \(argo\.yaml:18\): has no http route whose destinations are only istio-subset-split subset primary .*; or set spec\.traffic\.subsets to the subsets the route sends to$/,
    );
  });

  it("namespaces: an object in another namespace is not the one named; one without a namespace is", () => {
    const vs = (namespace?: string) =>
      [
        "apiVersion: networking.istio.io/v1",
        "kind: VirtualService",
        `metadata: {name: podinfo${namespace ? `, namespace: ${namespace}` : ""}}`,
        "spec: {http: [{name: main, route: [{destination: {host: elsewhere}}]}]}",
      ].join("\n");
    const traffic = "provider: istio\nrouteRef: {kind: VirtualService, name: podinfo}";
    const run = (rolloutNamespace: string | undefined, objectNamespace: string | undefined) => {
      const { rollouts, objects } = lintInput({
        "r.yaml": rolloutYaml("podinfo", traffic, rolloutNamespace),
        "vs.yaml": vs(objectNamespace),
      });
      return checkRoutes(rollouts, objects).length;
    };
    expect(run("shop", "staging")).toBe(0);
    expect(run("shop", "shop")).toBe(1);
    expect(run("shop", undefined)).toBe(1);
    expect(run(undefined, "staging")).toBe(1);
    expect(run(undefined, undefined)).toBe(1);
  });

  it("a route object that is not among the documents lives in the cluster: nothing to say", () => {
    const { rollouts } = lintInput({ "rollout.yaml": app["rollout.yaml"] });
    expect(checkRoutes(rollouts, [])).toEqual([]);
  });

  it("reads spec.traffic.stableService and canaryService where the Rollout sets them", () => {
    const traffic = "provider: gateway\nrouteRef: {kind: HTTPRoute, name: foo-route}";
    const { rollouts, objects } = lintInput({
      "r.yaml": rolloutYaml("foo", traffic),
      "route.yaml": fixture("upstream/gateway/traffic-split-2.yaml"),
    });
    expect(checkRoutes(rollouts, objects)).toHaveLength(1);
    // set on the parsed object, as the schema's fields (issue 15) will put them there
    Object.assign(rollouts[0]!.rollout.spec.traffic, { stableService: "foo-v1", canaryService: "foo-v2" });
    expect(checkRoutes(rollouts, objects)).toEqual([]);
  });
});
