import { type KubeClient, KubeNotFoundError, type KubeObject } from "./client.ts";

/**
 * Records Kubernetes Events (core/v1) about an object, as `kubectl describe` shows them. Repeats of the
 * same reason and message within a rollout bump the count of the existing Event instead of adding one.
 */
export class EventRecorder {
  private readonly recent = new Map<string, { name: string; count: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly component = "stepwise-controller",
  ) {}

  async record(about: KubeObject, reason: string, message: string, warning = false): Promise<void> {
    const namespace = about.metadata.namespace ?? "default";
    const key = `${namespace}/${about.metadata.name}/${reason}/${message}`;
    const now = new Date().toISOString();
    const seen = this.recent.get(key);
    if (seen) {
      try {
        await this.client.mergePatch(
          { apiVersion: "v1", kind: "Event", namespace, name: seen.name },
          { count: seen.count + 1, lastTimestamp: now },
        );
        seen.count++;
        return;
      } catch (error) {
        // the Event expired (its TTL) or the API server lost it: start a new one
        if (!(error instanceof KubeNotFoundError)) throw error;
        this.recent.delete(key);
      }
    }
    const name = `${about.metadata.name}.${Date.now().toString(16)}${Math.floor(Math.random() * 0xfff).toString(16)}`;
    await this.client.create({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: about.apiVersion,
        kind: about.kind,
        name: about.metadata.name,
        namespace,
        uid: about.metadata.uid,
        resourceVersion: about.metadata.resourceVersion,
      },
      reason,
      message,
      type: warning ? "Warning" : "Normal",
      source: { component: this.component },
      reportingComponent: this.component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
    this.recent.set(key, { name, count: 1 });
    if (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value!);
  }
}
