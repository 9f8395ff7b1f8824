/**
 * What the client asks of the cluster: commands to the controller (an annotation on the Rollout) and new
 * images on the target Deployment.
 */
import { randomUUID } from "node:crypto";
import { COMMAND_ANNOTATION, type Command } from "../api/commands.ts";
import type { KubeClient, KubeObject } from "../kube/client.ts";
import { type Deployment, revisionOf } from "../workloads/deployments.ts";

export const ROLLOUT = { apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout" } as const;

export interface RolloutRef {
  namespace: string;
  name: string;
}

/** A request that cannot be carried out as asked (a container that does not exist, say); the message says why. */
export class InvalidRequestError extends Error {
  override name = "InvalidRequestError";
}

export type CommandBody = Command extends infer C ? (C extends Command ? Omit<C, "id"> : never) : never;

/**
 * Asks the controller to do something to a rollout: the command goes into an annotation with a new id,
 * and the controller applies it once. The CLI commands, the TUI's keys and the RolloutClient all come here.
 */
export async function sendCommand(
  client: KubeClient,
  ref: RolloutRef,
  command: CommandBody,
): Promise<string> {
  const id = randomUUID();
  await client.mergePatch(
    { ...ROLLOUT, ...ref },
    { metadata: { annotations: { [COMMAND_ANNOTATION]: JSON.stringify({ id, ...command }) } } },
  );
  return id;
}

/** Tries of setImages when the Deployment keeps changing between its read and the write. */
const IMAGE_WRITE_ATTEMPTS = 5;

/**
 * Sets new images on the rollout's target Deployment (only the `image` of the named containers, with a
 * resourceVersion test) and returns the revision the controller will roll out. A Deployment changed since
 * it was read (its status, by its controller) is read again and the images set on that, as client-go's
 * RetryOnConflict does.
 */
export async function setImages(
  client: KubeClient,
  ref: RolloutRef,
  images: { container?: string; image: string }[],
): Promise<string> {
  const rollout = await client.get<KubeObject & { spec: { targetRef: { name: string } } }>({
    ...ROLLOUT,
    ...ref,
  });
  const target = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespace: ref.namespace,
    name: rollout.spec.targetRef.name,
  };
  for (let attempt = 1; ; attempt++) {
    const deployment = await client.get<Deployment>(target);
    const template = structuredClone(deployment.spec.template);
    const operations = imageOperations(target.name, template, deployment.metadata.resourceVersion, images);
    try {
      await client.jsonPatch(target, operations);
      return revisionOf(template);
    } catch (error) {
      // imported here: the commands that load this module start without the Kubernetes client's
      // (a write has loaded it by now)
      const { isStaleWrite } = await import("../kube/client.ts");
      if (!isStaleWrite(error) || attempt === IMAGE_WRITE_ATTEMPTS) throw error;
    }
  }
}

/** The patch that sets the images in `template` (changed in place) if the Deployment is still that version. */
function imageOperations(
  name: string,
  template: Deployment["spec"]["template"],
  resourceVersion: string | undefined,
  images: { container?: string; image: string }[],
): { op: "test" | "replace"; path: string; value: unknown }[] {
  const containers = (template.spec as { containers: { name: string; image: string }[] }).containers;
  const operations: { op: "test" | "replace"; path: string; value: unknown }[] = [
    { op: "test", path: "/metadata/resourceVersion", value: resourceVersion },
  ];
  for (const { container, image } of images) {
    if (container === undefined && containers.length !== 1) {
      throw new InvalidRequestError(
        `${name} has ${containers.length} containers (${containers.map((c) => c.name).join(", ")}); use --image CONTAINER=IMAGE`,
      );
    }
    const index = container === undefined ? 0 : containers.findIndex((c) => c.name === container);
    if (index < 0) {
      throw new InvalidRequestError(
        `${name} has no container ${container} (it has ${containers.map((c) => c.name).join(", ")})`,
      );
    }
    containers[index]!.image = image;
    operations.push({ op: "replace", path: `/spec/template/spec/containers/${index}/image`, value: image });
  }
  return operations;
}
