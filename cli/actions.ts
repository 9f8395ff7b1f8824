import { randomUUID } from "node:crypto";
import { COMMAND_ANNOTATION, type Command } from "../src/api/commands.ts";
import type { KubeClient, KubeObject } from "../src/kube/client.ts";
import { type Deployment, revisionOf } from "../src/workloads/deployments.ts";
import { EXIT } from "./exit-codes.ts";
import { CliError } from "./kube-options.ts";

export const ROLLOUT = { apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout" } as const;

export interface RolloutRef {
  namespace: string;
  name: string;
}

type CommandBody = Command extends infer C ? (C extends Command ? Omit<C, "id"> : never) : never;

/**
 * Asks the controller to do something to a rollout: the command goes into an annotation with a new id,
 * and the controller applies it once. The CLI commands and the TUI's keys both come here.
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

/** The parsed `--image [CONTAINER=]IMAGE` flags. */
export function parseImages(flags: string[]): { container?: string; image: string }[] {
  return flags.map((flag) => {
    const equals = flag.indexOf("=");
    // a registry port (host:5000/app) has no '=', so '=' alone separates the container name
    if (equals < 0) return { image: flag };
    const container = flag.slice(0, equals);
    const image = flag.slice(equals + 1);
    if (!container || !image)
      throw new CliError(`--image ${flag}: expected [CONTAINER=]IMAGE`, EXIT.invalidInput);
    return { container, image };
  });
}

/**
 * Sets new images on the rollout's target Deployment (only the `image` of the named containers, with a
 * resourceVersion test) and returns the revision the controller will roll out.
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
  const deployment = await client.get<Deployment>(target);
  const template = structuredClone(deployment.spec.template);
  const containers = (template.spec as { containers: { name: string; image: string }[] }).containers;
  const operations: { op: "test" | "replace"; path: string; value: unknown }[] = [
    { op: "test", path: "/metadata/resourceVersion", value: deployment.metadata.resourceVersion },
  ];
  for (const { container, image } of images) {
    if (container === undefined && containers.length !== 1) {
      throw new CliError(
        `${target.name} has ${containers.length} containers (${containers.map((c) => c.name).join(", ")}); use --image CONTAINER=IMAGE`,
        EXIT.invalidInput,
      );
    }
    const index = container === undefined ? 0 : containers.findIndex((c) => c.name === container);
    if (index < 0) {
      throw new CliError(
        `${target.name} has no container ${container} (it has ${containers.map((c) => c.name).join(", ")})`,
        EXIT.invalidInput,
      );
    }
    containers[index]!.image = image;
    operations.push({ op: "replace", path: `/spec/template/spec/containers/${index}/image`, value: image });
  }
  await client.jsonPatch(target, operations);
  return revisionOf(template);
}
