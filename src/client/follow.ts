import { parseRollout, type Rollout } from "../api/rollout.ts";
import type { KubeClient, KubeObject } from "../kube/client.ts";
import { Informer } from "../kube/informer.ts";
import { apiSource } from "../kube/watch-source.ts";
import { ROLLOUT, type RolloutRef } from "./actions.ts";

/** The watch's state: before the first list, live, re-establishing after an error, or the rollout is gone. */
export type Connection = "connecting" | "live" | "reconnecting" | "gone";

/** The `problem` of the last update when the rollout is deleted. */
export const DELETED = "the rollout was deleted";

/**
 * Follows one Rollout with a resilient watch. `onUpdate` gets every new version of the object, parsed
 * (undefined once it is deleted, or with `problem` when it does not parse); `onConnection` says whether
 * the watch is live or reconnecting.
 */
export async function followRollout(
  client: KubeClient,
  ref: RolloutRef,
  onUpdate: (rollout: Rollout | undefined, problem?: string) => void,
  onConnection: (state: Connection) => void,
): Promise<() => void> {
  let state: Connection = "connecting";
  const set = (next: Connection) => {
    if (next === state) return;
    state = next;
    onConnection(state);
  };
  onConnection(state);
  const informer = new Informer<KubeObject>(
    apiSource(client, ROLLOUT.apiVersion, ROLLOUT.kind, ref.namespace, {
      fieldSelector: `metadata.name=${ref.name}`,
    }),
    () => set("reconnecting"),
  );
  informer.on((type, object) => {
    set("live");
    if (type === "deleted") return onUpdate(undefined, DELETED);
    const parsed = parseRollout(object);
    if (parsed.ok) onUpdate(parsed.value);
    else onUpdate(undefined, parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; "));
  });
  await informer.start();
  set("live");
  const first = informer.get(ref.namespace, ref.name);
  if (!first) set("gone");
  return () => informer.stop();
}
