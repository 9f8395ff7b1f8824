import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, Option } from "commander";
import {
  APP,
  MESHES,
  NAMESPACE,
  type SandboxMesh,
  SCENARIOS,
  type Scenario,
  startSandbox,
  unsupportedScenario,
} from "../../src/sandbox/sandbox.ts";
import { ROUTE_STYLES, type RouteStyle } from "../../src/sandbox/upstream-routes.ts";

/** An image tag newer than the demo's, for the example `rollout start` a kept-running sandbox prints. */
const NEXT_DEMO_IMAGE = "ghcr.io/stefanprodan/podinfo:6.7.2";

/** How to reach a kept-running sandbox from another terminal: the kubeconfig and two commands to try. */
export function connectHint(kubeconfig: string): string[] {
  return [
    "to use it from another terminal:",
    `  export KUBECONFIG=${kubeconfig}`,
    `  rollout watch ${APP} -n ${NAMESPACE}`,
    `  rollout start ${APP} -n ${NAMESPACE} --image ${NEXT_DEMO_IMAGE} --wait`,
  ];
}

import { EXIT } from "../exit-codes.ts";
import { CliError, numberFlag, runCli } from "../options.ts";
import { followUntilOutcome, inCI } from "./follow.ts";
import { sandboxApiCommand } from "./sandbox-api.ts";

interface SandboxFlags {
  mesh: SandboxMesh;
  scenario: Scenario;
  routes: RouteStyle;
  rps: string;
  tui?: boolean;
  output?: string;
  keepRunning?: boolean;
  prometheus?: boolean;
  timeout: string;
}

/** `rollout sandbox`: the whole product on this machine, and `rollout sandbox api`: the emulator alone. */
export function sandboxCommand(): Command {
  return new Command("sandbox")
    .description(
      "run the whole product on this machine: API emulator, mesh, Prometheus, controller and a demo rollout",
    )
    .addOption(new Option("--mesh <mesh>", "the mesh to simulate").choices([...MESHES]).default("istio"))
    .addOption(
      new Option("--scenario <name>", "how the new version behaves")
        .choices([...SCENARIOS])
        .default("healthy"),
    )
    .addOption(
      new Option(
        "--routes <style>",
        "stepwise: the controller creates its route object; upstream: it drives a user's, named the Argo way (-stable/-canary)",
      )
        .choices([...ROUTE_STYLES])
        .default("stepwise"),
    )
    .option("--rps <n>", "requests per second of demo traffic", "20")
    .option("--no-tui", "plain lines even in a terminal")
    .addOption(new Option("-o, --output <format>", "json: one JSON object per line").choices(["json"]))
    .option("--keep-running", "keep everything running after the rollout ends (Ctrl-C stops)")
    .option("--no-prometheus", "use the built-in scraper even when prometheus is installed")
    .option("--timeout <seconds>", "give up after this many seconds (exit 3)", "300")
    .addCommand(sandboxApiCommand())
    .action((flags: SandboxFlags) =>
      runCli(async () => {
        const rps = numberFlag("--rps", flags.rps, (n) => n > 0, "a positive number");
        const timeoutSeconds = numberFlag("--timeout", flags.timeout, (n) => n > 0, "seconds");
        const unsupported = unsupportedScenario(flags.mesh, flags.scenario);
        if (unsupported) throw new CliError(unsupported, EXIT.invalidInput);
        const mode =
          flags.output === "json"
            ? "json"
            : flags.tui === false || !process.stdout.isTTY || inCI()
              ? "plain"
              : "tui";
        const note = (text: string) => {
          if (mode !== "json") console.log(text);
        };
        note(`starting the sandbox: ${flags.mesh} (${flags.scenario} scenario, ${rps} requests/s)...`);
        const sandbox = await startSandbox({
          mesh: flags.mesh,
          scenario: flags.scenario,
          routes: flags.routes,
          rps,
          prometheus: flags.prometheus !== false,
        });
        let interrupted = false;
        const onSignal = () => {
          interrupted = true;
          void sandbox.stop().then(() => process.exit(EXIT.interrupted));
        };
        // a closed terminal (SIGHUP) must not leave Prometheus and the temp directories behind either
        for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, onSignal);
        note(
          `mesh: ${sandbox.meshLabel}; SLIs: ${sandbox.metricsSource}; controller log: ${sandbox.logFile}`,
        );
        const code = await followUntilOutcome(
          { client: sandbox.client, ref: { namespace: NAMESPACE, name: APP } },
          mode,
          {
            revision: sandbox.revision,
            timeoutMs: timeoutSeconds * 1000,
            metricsSource: sandbox.metricsSource,
          },
        );
        const counts = sandbox.traffic.counts();
        const route = await sandbox.route();
        const { kind, namespace, name } = route.object;
        if (mode === "json") {
          console.log(
            JSON.stringify({
              summary: {
                exitCode: code,
                route: {
                  kind,
                  namespace,
                  name,
                  canaryWeight: route.canaryWeight,
                  stableWeight: route.stableWeight,
                },
                traffic: counts,
              },
            }),
          );
        }
        note(
          `route ${kind} ${namespace}/${name}: ${route.stableWeight}% primary, ${route.canaryWeight}% canary`,
        );
        note(
          `traffic: ${counts.answered} answered (${Object.entries(counts.byVersion)
            .map(([v, n]) => `${v}: ${n}`)
            .join(", ")})`,
        );
        if (flags.keepRunning && !interrupted) {
          // next to the controller's log, outside the working directory; removed when the sandbox stops
          const kubeconfig = join(tmpdir(), `stepwise-sandbox-${process.pid}.kubeconfig`);
          await sandbox.api.writeKubeconfig(kubeconfig);
          process.once("exit", () => rmSync(kubeconfig, { force: true }));
          note(
            `still running: API ${sandbox.api.url}, mesh ${sandbox.mesh.url}, metrics ${sandbox.mesh.metricsUrl}/metrics; Ctrl-C stops`,
          );
          for (const line of connectHint(kubeconfig)) note(line);
          await new Promise(() => {});
        }
        for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(signal, onSignal);
        await sandbox.stop();
        return code;
      }),
    );
}
