import { Command, Option } from "commander";
import type { CommandBody } from "../../src/client/actions.ts";
import { EXIT } from "../exit-codes.ts";
import { clientFrom, explain } from "../kube-options.ts";
import { CliError, type KubeOptions, runCli, withKubeOptions } from "../options.ts";

function send(rollout: string, options: KubeOptions, body: () => CommandBody): Promise<void> {
  return runCli(async () => {
    const command = body();
    const { rollouts, namespace } = clientFrom(options);
    try {
      await rollouts.send(rollout, command);
    } catch (error) {
      throw explain(error, `rollout ${namespace}/${rollout}`);
    }
    console.log(
      `${command.type} sent to ${namespace}/${rollout}; the controller applies it on its next tick`,
    );
    return EXIT.ok;
  });
}

function simple(name: string, description: string, type: "abort" | "pause" | "resume" | "retry"): Command {
  return withKubeOptions(
    new Command(name).description(description).argument("<rollout>", "the Rollout's name"),
  ).action((rollout: string, options: KubeOptions) => send(rollout, options, () => ({ type })));
}

/** `promote`, `abort`, `pause`, `resume`, `retry` and `set-weight`: manual control through the controller. */
export function manageCommands(): Command[] {
  const promote = withKubeOptions(
    new Command("promote")
      .description("advance to the next step, or with --full promote now")
      .argument("<rollout>", "the Rollout's name")
      .addOption(new Option("--full", "skip the remaining steps and promote")),
  ).action((rollout: string, options: KubeOptions & { full?: boolean }) =>
    send(rollout, options, () => ({ type: "promote", ...(options.full ? { full: true } : {}) })),
  );
  const setWeight = withKubeOptions(
    new Command("set-weight")
      .description("pause at a chosen canary weight")
      .argument("<rollout>", "the Rollout's name")
      .argument("<percent>", "canary weight in percent, 0 to 100"),
  ).action((rollout: string, percent: string, options: KubeOptions) =>
    send(rollout, options, () => {
      const weight = Number(percent);
      if (percent.trim() === "" || !Number.isFinite(weight) || weight < 0 || weight > 100) {
        throw new CliError(
          `PERCENT must be a number from 0 to 100, not ${JSON.stringify(percent)}`,
          EXIT.invalidInput,
        );
      }
      return { type: "set-weight", weight };
    }),
  );
  return [
    promote,
    simple("abort", "roll back to the stable version now", "abort"),
    simple("pause", "hold the rollout at its current weight", "pause"),
    simple("resume", "continue a paused rollout (past a manual gate, too)", "resume"),
    simple("retry", "run a rolled-back or failed revision again", "retry"),
    setWeight,
  ];
}
