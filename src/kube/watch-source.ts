import { Watch } from "@kubernetes/client-node/dist/watch.js";
import type { KubeClient, KubeObject, ListOptions } from "./client.ts";
import type { ListWatchSource, WatchEventType } from "./informer.ts";

/**
 * An object as an informer keeps it: without metadata.managedFields, which no reader here uses and which
 * is often the largest part of an object (client-go's informers strip it the same way, with a transform).
 */
function cached<T extends KubeObject>(object: T, apiVersion: string, kind: string): T {
  const { managedFields: _, ...metadata } = object.metadata as T["metadata"] & { managedFields?: unknown };
  return { ...object, apiVersion, kind, metadata };
}

/** List + watch of one kind over the API server, for an {@link Informer}; all namespaces when none is given. */
export function apiSource<T extends KubeObject>(
  client: KubeClient,
  apiVersion: string,
  kind: string,
  namespace?: string,
  options: ListOptions = {},
): ListWatchSource<T> {
  const watcher = new Watch(client.kubeconfig);
  return {
    async list() {
      const { items, resourceVersion } = await client.listWithVersion<T>(
        apiVersion,
        kind,
        namespace,
        options,
      );
      return { items: items.map((item) => cached(item, apiVersion, kind)), resourceVersion };
    },
    async watch(resourceVersion, onEvent, onDone) {
      const path = await client.collectionPath(apiVersion, kind, namespace);
      const abort = await watcher.watch(
        path,
        {
          ...options,
          resourceVersion,
          allowWatchBookmarks: true,
          // spread re-watches of many clients over time, as client-go does
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        },
        (type: string, object: T) => {
          if (type !== "ERROR" && type !== "BOOKMARK")
            onEvent(type as WatchEventType, cached(object, apiVersion, kind));
          else onEvent(type as WatchEventType, object);
        },
        (error: unknown) => onDone(error ?? undefined),
      );
      return () => abort.abort();
    },
  };
}
