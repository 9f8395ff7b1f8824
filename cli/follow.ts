import { parseRollout, type Rollout } from "../src/api/rollout.ts";
import type { KubeClient, KubeObject } from "../src/kube/client.ts";
import { Informer } from "../src/kube/informer.ts";
import { apiSource } from "../src/kube/watch-source.ts";
import { ROLLOUT, type RolloutRef } from "./actions.ts";
import type { Connection } from "./tui/store.ts";

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
    if (type === "deleted") return onUpdate(undefined, "the rollout was deleted");
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
