import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { loadBuiltInProfiles } from "../../src/analysis/profiles.ts";
import { shortAnalysisSteps } from "../../src/analysis/step-time.ts";
import { type DocumentResult, decodeManifest, parseDocuments } from "../../src/api/documents.ts";
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

/** The lines `rollout lint` prints on stderr for one file: `FILE:LINE: PATH: MESSAGE` or `FILE: MESSAGE`. */
async function lintFile(file: string): Promise<{ problems: string[]; documents: DocumentResult[] }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    return {
      problems: [`${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`],
      documents: [],
    };
  }
  const decoded = decodeManifest(bytes);
  if (!decoded.ok) {
    return {
      problems: [`${file}${decoded.line ? `:${decoded.line}` : ""}: ${decoded.message}`],
      documents: [],
    };
  }
  const documents = parseDocuments(decoded.text);
  if (documents.length === 0)
    return {
      problems: [`${file}: has no document, only comments; expected a Rollout or SLOProfile`],
      documents: [],
    };
  const problems = documents.flatMap((document) =>
    document.errors.map((error) => `${file}:${error.line}: ${error.path}: ${error.message}`),
  );
  return { problems, documents };
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
        let result: { problems: string[]; documents: DocumentResult[] };
        try {
          result = await lintFile(file);
        } catch (error) {
          // a bug, not the file's fault; still one line, never a stack trace
          result = {
            problems: [`${file}: cannot lint: ${(error as Error).message.split("\n")[0]}`],
            documents: [],
          };
        }
        for (const problem of result.problems) console.error(problem);
        failed ||= result.problems.length > 0;
        checked += result.documents.length;
        for (const document of result.documents) parsed.push({ file, document });
      }
      if (rps !== undefined) await warnShortSteps(parsed, rps);
      if (!failed) console.log(`${checked} document${checked === 1 ? "" : "s"} valid`);
      process.exitCode = failed ? EXIT.invalidInput : EXIT.ok;
    });
}
