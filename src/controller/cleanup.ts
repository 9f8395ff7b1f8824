/**
 * What a deleted Rollout leaves behind. The controller puts CLEANUP_FINALIZER on every Rollout it acts on,
 * so a deletion waits until the mesh works without it: the route sends all traffic to the stable
 * Service, with no fault, match route or mirror; the user's Deployment is scaled back up; adopted
 * Services get their own selectors back. Only then is the finalizer removed and the objects the Rollout
 * owns are garbage-collected.
 */
import type { KubeObject } from "../kube/client.ts";
import { ApiNotServedError, RouteNotFoundError } from "../routers/errors.ts";
import type { TrafficRouter } from "../routers/types.ts";

export const CLEANUP_FINALIZER = "stepwise.dev/cleanup";

export function hasCleanupFinalizer(object: KubeObject): boolean {
  return (object.metadata.finalizers as string[] | undefined)?.includes(CLEANUP_FINALIZER) ?? false;
}

export function isBeingDeleted(object: KubeObject): boolean {
  return Boolean(object.metadata.deletionTimestamp);
}

/**
 * The merge patch that adds (or removes) the finalizer. It carries the version read, so a concurrent
 * change is a conflict instead of a lost update; other clients' finalizers are kept.
 */
export function finalizerPatch(object: KubeObject, present: boolean): { metadata: Record<string, unknown> } {
  const others = ((object.metadata.finalizers as string[] | undefined) ?? []).filter(
    (f) => f !== CLEANUP_FINALIZER,
  );
  return {
    metadata: {
      resourceVersion: object.metadata.resourceVersion,
      finalizers: present ? [...others, CLEANUP_FINALIZER] : others,
    },
  };
}

/**
 * Puts the route as the user would have it without a release: all traffic to stable, no fault, match
 * route or mirror. A route object that is gone (deleted first, never created, its API uninstalled)
 * needs nothing; one the controller never wrote to is left as it is.
 */
export async function releaseRoute(router: TrafficRouter): Promise<void> {
  try {
    const state = await router.read();
    if (!state.managed) return;
    await router.clearFault();
    await router.finalize();
  } catch (error) {
    if (error instanceof RouteNotFoundError || error instanceof ApiNotServedError) return;
    throw error;
  }
}
