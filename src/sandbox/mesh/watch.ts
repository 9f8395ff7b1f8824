/**
 * The route objects the data plane obeys, kept current by list + watch against the API server (the
 * project's resilient Informer: re-watch after a close, relist after 410 Gone, back off after errors).
 */
import type { KubeClient, KubeObject } from "../../kube/client.ts";
import { Informer } from "../../kube/informer.ts";
import { apiSource } from "../../kube/watch-source.ts";
import type { RouteKind } from "./views/index.ts";

export class RouteObjects {
  private changes = 0;

  private constructor(private readonly informers: ReadonlyMap<string, Informer<KubeObject>>) {
    for (const informer of informers.values()) informer.on(() => this.changes++);
  }

  /**
   * Lists and watches `kinds` in `namespace`, each in the version its API group prefers; resolves once every
   * first list is in. Rejects when the server does not serve a kind (its CRD is not installed).
   */
  static async start(
    client: KubeClient,
    namespace: string,
    kinds: readonly RouteKind[],
    onError: (error: unknown) => void,
  ): Promise<RouteObjects> {
    const informers = new Map<string, Informer<KubeObject>>();
    try {
      for (const { group, kind } of kinds) {
        const info = await client.apiGroup(group);
        const version = info?.preferredVersion ?? info?.versions[0];
        if (version === undefined)
          throw new Error(`the API server does not serve ${group} (is the CRD for ${kind} installed?)`);
        const informer = new Informer<KubeObject>(
          apiSource(client, `${group}/${version}`, kind, namespace),
          onError,
        );
        informers.set(kind, informer);
        await informer.start();
      }
    } catch (error) {
      for (const informer of informers.values()) informer.stop();
      throw error;
    }
    return new RouteObjects(informers);
  }

  /** The current objects of a kind; none for a kind not watched. */
  objects(kind: string): readonly KubeObject[] {
    return this.informers.get(kind)?.list() ?? [];
  }

  /** Grows with every change seen, so that derived views know when to recompute. */
  get generation(): number {
    return this.changes;
  }

  stop(): void {
    for (const informer of this.informers.values()) informer.stop();
  }
}
