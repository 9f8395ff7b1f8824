import { Command, Option } from "commander";
import { stringify } from "yaml";
import type { RolloutStatus } from "../../src/api/rollout.ts";
import { refusalsOf } from "../../src/client/refusals.ts";
import type { KubeObject } from "../../src/kube/client.ts";
import { ROLLOUT } from "../actions.ts";
import { EXIT } from "../exit-codes.ts";
import { clientFrom, explain } from "../kube-options.ts";
import { type KubeOptions, runCli, withKubeOptions } from "../options.ts";
import { requireStepwiseApi } from "../stepwise-api.ts";

function age(created: string | undefined, now: number): string {
  if (!created) return "-";
  const seconds = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** `rollout list [-A]`: one line per Rollout. */
export function listCommand(): Command {
  return withKubeOptions(
    new Command("list")
      .description(
        "list rollouts with their phase, step, canary weight and the reason the controller refuses to go on, if it does",
      )
      .option("-A, --all-namespaces", "list rollouts in every namespace")
      .addOption(
        new Option(
          "-o, --output <format>",
          "json: one JSON object per rollout per line; yaml: the same objects as one YAML list",
        ).choices(["json", "yaml"]),
      ),
  ).action((options: KubeOptions & { allNamespaces?: boolean; output?: string }) =>
    runCli(async () => {
      const { client, namespace } = clientFrom(options);
      let items: (KubeObject & { status?: RolloutStatus })[];
      try {
        await requireStepwiseApi(client);
        items = await client.list(
          ROLLOUT.apiVersion,
          ROLLOUT.kind,
          options.allNamespaces ? undefined : namespace,
        );
      } catch (error) {
        throw explain(error, "listing rollouts");
      }
      const now = Date.now();
      const rows = items.map((item) => ({
        namespace: item.metadata.namespace ?? "",
        name: item.metadata.name,
        phase: item.status?.phase ?? "Idle",
        step: item.status?.step,
        weight: item.status?.weights?.applied ?? item.status?.weights?.desired ?? 0,
        revision: item.status?.revision ?? "",
        // why the controller refuses to go on (src/client/refusals.ts), or empty
        reason: refusalsOf(item)
          .map((refusal) => refusal.reason)
          .join(","),
        age: age(item.metadata.creationTimestamp as string | undefined, now),
      }));
      if (options.output === "json") {
        for (const row of rows) console.log(JSON.stringify(row));
        return EXIT.ok;
      }
      if (options.output === "yaml") {
        process.stdout.write(stringify(rows));
        return EXIT.ok;
      }
      if (rows.length === 0) {
        console.log(options.allNamespaces ? "No rollouts found." : `No rollouts found in ${namespace}.`);
        return EXIT.ok;
      }
      const header = [
        ...(options.allNamespaces ? ["NAMESPACE"] : []),
        "NAME",
        "PHASE",
        "STEP",
        "WEIGHT",
        "REVISION",
        "REASON",
        "AGE",
      ];
      const table = rows.map((r) => [
        ...(options.allNamespaces ? [r.namespace] : []),
        r.name,
        r.phase,
        r.step === undefined ? "-" : String(r.step + 1),
        `${r.weight}%`,
        r.revision || "-",
        r.reason || "-",
        r.age,
      ]);
      const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
      for (const row of [header, ...table])
        console.log(
          row
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join("   ")
            .trimEnd(),
        );
      return EXIT.ok;
    }),
  );
}
