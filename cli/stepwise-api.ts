import { join, relative } from "node:path";
import { type KubeClient, KubeNotFoundError } from "../src/kube/client.ts";
import { PACKAGE_ROOT } from "../src/package-root.ts";
import { ROLLOUT } from "./actions.ts";
import { EXIT } from "./exit-codes.ts";
import { CliError } from "./options.ts";

/** The command that installs Stepwise's CRDs, with the path of the ones this package ships. */
export function installCrdsCommand(): string {
  const dir = join(PACKAGE_ROOT, "manifests", "crds");
  const local = relative(process.cwd(), dir);
  return `kubectl apply -f ${local.startsWith("..") ? dir : local}`;
}

/**
 * Fails at start-up, with exit 5 and the command that installs them, when the cluster does not serve the
 * Rollout kind (the CRDs are not installed), instead of a "not found" later or a process that waits.
 */
export async function requireStepwiseApi(client: KubeClient): Promise<void> {
  try {
    await client.collectionPath(ROLLOUT.apiVersion, ROLLOUT.kind);
  } catch (error) {
    if (!(error instanceof KubeNotFoundError)) throw error;
    throw new CliError(
      `the cluster does not serve Stepwise's API (${ROLLOUT.apiVersion} ${ROLLOUT.kind}): install the CRDs with ${installCrdsCommand()}`,
      EXIT.unreachable,
    );
  }
}
