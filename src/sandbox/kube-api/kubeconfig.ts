import { writeFile } from "node:fs/promises";
import YAML from "yaml";

export const CONTEXT_NAME = "stepwise-sandbox";

/** A kubeconfig that kubectl and client-node accept for a plain-HTTP loopback server. */
export function kubeconfigYaml(server: string, token: string, namespace = "default"): string {
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: CONTEXT_NAME, cluster: { server, "insecure-skip-tls-verify": true } }],
    users: [{ name: `${CONTEXT_NAME}-admin`, user: { token } }],
    contexts: [
      { name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: `${CONTEXT_NAME}-admin`, namespace } },
    ],
    "current-context": CONTEXT_NAME,
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, server: string, token: string): Promise<void> {
  await writeFile(path, kubeconfigYaml(server, token), { mode: 0o600 });
}
