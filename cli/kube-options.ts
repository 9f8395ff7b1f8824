/** The CLI's side of the Kubernetes client: a client from the cluster flags, and its errors as CLI errors. */
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { InvalidRequestError } from "../src/client/actions.ts";
import { RolloutClient } from "../src/client/rollout-client.ts";
import {
  KubeApiError,
  KubeClient,
  type KubeClientOptions,
  KubeNotFoundError,
  KubeUnreachableError,
} from "../src/kube/client.ts";
import { EXIT } from "./exit-codes.ts";
import { CliError, type KubeOptions } from "./options.ts";

export function clientFrom(
  options: KubeOptions,
  fieldManager = "stepwise-cli",
  clientOptions: Omit<KubeClientOptions, "fieldManager"> = {},
): { client: KubeClient; namespace: string; rollouts: RolloutClient } {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (error) {
    throw new CliError(
      `cannot load the kubeconfig ${options.kubeconfig ?? ""}: ${(error as Error).message.split("\n")[0]}`.replace(
        "  ",
        " ",
      ),
      EXIT.unreachable,
    );
  }
  if (options.context) {
    if (!kc.getContextObject(options.context)) {
      throw new CliError(`the kubeconfig has no context named ${options.context}`, EXIT.invalidInput);
    }
    kc.setCurrentContext(options.context);
  }
  let client: KubeClient;
  try {
    client = new KubeClient(kc, { userAgent: fieldManager, ...clientOptions, fieldManager });
  } catch (error) {
    throw new CliError(`the kubeconfig cannot be used: ${(error as Error).message}`, EXIT.unreachable);
  }
  const namespace = options.namespace ?? client.defaultNamespace;
  return { client, namespace, rollouts: new RolloutClient(client, namespace) };
}

/** Turns what can go wrong talking to the cluster into one line and the documented exit code. */
export function explain(error: unknown, what: string): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof InvalidRequestError) return new CliError(error.message, EXIT.invalidInput);
  if (error instanceof KubeUnreachableError) return new CliError(error.message, EXIT.unreachable);
  if (error instanceof KubeNotFoundError) return new CliError(`${what} not found`, EXIT.invalidInput);
  if (error instanceof KubeApiError) {
    const code = error.statusCode === 401 || error.statusCode === 403 ? EXIT.unreachable : EXIT.failed;
    return new CliError(`${what}: ${error.serverMessage || error.message}`, code);
  }
  return new CliError(`${what}: ${error instanceof Error ? error.message : String(error)}`, EXIT.failed);
}
