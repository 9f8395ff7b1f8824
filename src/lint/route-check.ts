/**
 * Checks each Rollout against the route objects given in the same run of `rollout lint`: the object its
 * spec.traffic names (routeRef) or implies (the object the controller would create, named after the
 * Rollout), when that object is among the documents. A route object that is not among them lives in the
 * cluster and is not checked. Pure: parsed documents in, problems out.
 */
import { ROLLOUT_DEFAULTS as D } from "../api/defaults.ts";
import type { OtherDocument } from "../api/documents.ts";
import { ROUTE_KINDS, type Rollout, serviceNames, subsetNames } from "../api/rollout.ts";
import type { KubeObject } from "../kube/client.ts";
import { type InspectContext, inspectRouteObject, ownRouteObjectName } from "../routers/inspect.ts";

/** A document as lint found it: the file, and the line it starts on. */
interface Located {
  file: string;
  line: number;
}

export interface LintedRollout extends Located {
  rollout: Rollout;
  /** The line of a field of the Rollout (`spec.traffic.routes[0]`). */
  lineOf: (path: string) => number;
}

export interface LintedObject extends Located {
  object: OtherDocument;
}

/** A problem at a field of a Rollout: `file:line: path: message`. */
export interface RouteCheckProblem extends Located {
  path: string;
  message: string;
}

function inspectContext(rollout: Rollout, namespace: string, routeName: string | undefined): InspectContext {
  const names = serviceNames(rollout);
  const ctx: InspectContext = {
    rollout: rollout.metadata.name,
    namespace,
    service: names.apex,
    stableService: names.stable,
    canaryService: names.canary,
    faultService: names.fault,
    istio: { mode: rollout.spec.traffic.istio?.mode ?? D.istioMode, subsets: subsetNames(rollout.spec) },
  };
  if (routeName !== undefined) ctx.routeName = routeName;
  return ctx;
}

/** True when a document without a namespace, or in the Rollout's, sits beside it (as `kubectl apply -n` puts it). */
function sameNamespace(a: string | undefined, b: string | undefined): boolean {
  return a === undefined || b === undefined || a === b;
}

/** What to change besides the route object, by Istio mode. */
function remedy(ctx: InspectContext): string {
  return ctx.istio?.mode === "subset"
    ? "or set spec.traffic.subsets to the subsets the route sends to"
    : "or set spec.traffic.stableService to the Service the route sends to";
}

/** The field a route problem is reported at: the route named, else the object named, else the traffic. */
function fieldAt(rollout: Rollout): string {
  if (rollout.spec.traffic.routes?.[0] !== undefined) return "spec.traffic.routes[0]";
  if (rollout.spec.traffic.routeRef) return "spec.traffic.routeRef";
  return "spec.traffic";
}

function checkOne(entry: LintedRollout, objects: readonly LintedObject[]): RouteCheckProblem[] {
  const { rollout } = entry;
  const traffic = rollout.spec.traffic;
  const routeName = traffic.routes?.[0];
  const kind = traffic.routeRef?.kind ?? ROUTE_KINDS[traffic.provider][0]!;
  const base = inspectContext(rollout, rollout.metadata.namespace ?? "default", routeName);
  const name = traffic.routeRef?.name ?? ownRouteObjectName(kind, base);
  const problems: RouteCheckProblem[] = [];
  for (const found of objects) {
    const { object } = found;
    if (object.kind !== kind || object.name !== name) continue;
    if (!sameNamespace(rollout.metadata.namespace, object.namespace)) continue;
    const namespace = rollout.metadata.namespace ?? object.namespace ?? "default";
    const ctx = inspectContext(rollout, namespace, routeName);
    const inspection = inspectRouteObject(object.value as unknown as KubeObject, ctx);
    if (!inspection) continue;
    const at = fieldAt(rollout);
    for (const problem of inspection.problems) {
      const said = `${problem.object} (${found.file}:${found.line}): ${problem.detail}`;
      let message: string;
      if (problem.reason === "RouteNotFound") {
        const named = inspection.routes.length > 0 ? inspection.routes.join(", ") : "none";
        message = `${said}; the routes it names: ${named}`;
      } else if (routeName === undefined && inspection.stableRoutes.length > 0) {
        // routes that send to the stable Service beside the user's own backends are managed only by name
        message = `${said}; its routes with a stable destination, which spec.traffic.routes can name: ${inspection.stableRoutes.join(", ")}`;
      } else message = `${said}; ${remedy(ctx)}`;
      problems.push({ file: entry.file, line: entry.lineOf(at), path: at, message });
    }
  }
  return problems;
}

/** The problems of every Rollout against the route objects among the documents, in the Rollouts' order. */
export function checkRoutes(
  rollouts: readonly LintedRollout[],
  objects: readonly LintedObject[],
): RouteCheckProblem[] {
  return rollouts.flatMap((entry) => checkOne(entry, objects));
}
