/**
 * What every command shares and can load at once: the cluster flags, the one-line error, numeric flags
 * and the runner that turns a failure into its exit code. Nothing here imports the Kubernetes client, so a
 * command can show something (the TUI's "connecting…" frame) before that client loads; the client side
 * is cli/kube-options.ts.
 */
import { type Command, Option } from "commander";
import { EXIT } from "./exit-codes.ts";

export interface KubeOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** The options every command that talks to a cluster takes. */
export function withKubeOptions(command: Command): Command {
  return command
    .addOption(new Option("--kubeconfig <file>", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)"))
    .addOption(new Option("--context <name>", "kubeconfig context to use"))
    .addOption(new Option("-n, --namespace <namespace>", "namespace (default: the context's)"));
}

/** A failure a command reports as one line and an exit code, never as a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** A numeric flag's value, or a usage error (exit 2) naming the flag and what it expects. */
export function numberFlag(
  flag: string,
  value: string,
  valid: (n: number) => boolean,
  expected: string,
): number {
  const n = value.trim() === "" ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || !valid(n))
    throw new CliError(`${flag} ${value}: expected ${expected}`, EXIT.invalidInput);
  return n;
}

/** Runs a command body; failures print one line on stderr and set the exit code. */
export async function runCli(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (error) {
    // Only a failure that is not already a CliError needs the cluster errors' table (and its imports).
    const failure =
      error instanceof CliError ? error : (await import("./kube-options.ts")).explain(error, "error");
    console.error(`rollout: ${failure.message.split("\n")[0]}`);
    process.exitCode = failure.exitCode;
  }
}
