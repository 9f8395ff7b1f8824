import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { loadBuiltInProfiles } from "../../src/analysis/profiles.ts";
import { shortAnalysisSteps } from "../../src/analysis/step-time.ts";
import { type DocumentResult, parseDocuments } from "../../src/api/documents.ts";
import type { Rollout } from "../../src/api/rollout.ts";
import type { SLOProfile } from "../../src/api/slo-profile.ts";
import { EXIT } from "../exit-codes.ts";

/**
 * With --rps: warns (on stderr, without failing) about analysis steps too short for their profiles to pass
 * at that many requests a second; profiles are the built-in ones and the SLOProfiles among the files.
 */
async function warnShortSteps(documents: { file: string; document: DocumentResult }[], rps: number) {
  const profiles: Map<string, SLOProfile> = await loadBuiltInProfiles();
  for (const { document } of documents)
    if (document.object?.kind === "SLOProfile") profiles.set(document.object.metadata.name, document.object);
  for (const { file, document } of documents) {
    if (document.object?.kind !== "Rollout") continue;
    for (const short of shortAnalysisSteps((document.object as Rollout).spec, (n) => profiles.get(n), rps))
      console.error(`${file}:${document.line}: warning: ${short.message}`);
  }
}

/** `rollout lint FILE...`: checks Rollout and SLOProfile manifests without a cluster. */
export function lintCommand(): Command {
  return new Command("lint")
    .description("validate Rollout and SLOProfile YAML files without a cluster")
    .argument("<files...>", "YAML files, each with one or more documents separated by ---")
    .option("--rps <n>", "the service's requests per second: warn about analysis steps too short to pass")
    .action(async (files: string[], options: { rps?: string }) => {
      const rps = options.rps === undefined ? undefined : Number(options.rps);
      if (rps !== undefined && !(Number.isFinite(rps) && rps > 0)) {
        console.error(`--rps must be a positive number of requests per second, not "${options.rps}"`);
        process.exitCode = EXIT.invalidInput;
        return;
      }
      const parsed: { file: string; document: DocumentResult }[] = [];
      let failed = false;
      let checked = 0;
      for (const file of files) {
        let text: string;
        try {
          text = await readFile(file, "utf8");
        } catch (error) {
          console.error(`${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
          failed = true;
          continue;
        }
        for (const document of parseDocuments(text)) {
          checked++;
          parsed.push({ file, document });
          for (const error of document.errors) {
            console.error(`${file}:${error.line}: ${error.path}: ${error.message}`);
            failed = true;
          }
        }
      }
      if (rps !== undefined) await warnShortSteps(parsed, rps);
      if (!failed) console.log(`${checked} document${checked === 1 ? "" : "s"} valid`);
      process.exitCode = failed ? EXIT.invalidInput : EXIT.ok;
    });
}
