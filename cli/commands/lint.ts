import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { loadBuiltInProfiles } from "../../src/analysis/profiles.ts";
import { shortAnalysisSteps } from "../../src/analysis/step-time.ts";
import { type DocumentResult, decodeManifest, LIMITS, parseDocuments } from "../../src/api/documents.ts";
import type { Rollout } from "../../src/api/rollout.ts";
import type { SLOProfile } from "../../src/api/slo-profile.ts";
import { checkRoutes, type LintedObject, type LintedRollout } from "../../src/lint/route-check.ts";
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

/** What `-` stands for in messages. */
const STDIN = "<stdin>";

/**
 * The bytes of a file, or of stdin for `-`. Stdin is read up to one byte past LIMITS.maxBytes, so an endless
 * stream ends as the size error too, without being held in memory.
 */
async function readInput(file: string): Promise<{ bytes: Buffer } | { problem: string }> {
  if (file !== "-") {
    try {
      return { bytes: await readFile(file) };
    } catch (error) {
      return { problem: `${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
    }
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > LIMITS.maxBytes) {
      process.stdin.destroy();
      const mib = (LIMITS.maxBytes / 1024 / 1024).toFixed(1);
      return { problem: `${STDIN}: has more than ${mib} MiB; lint reads files of at most ${mib} MiB` };
    }
  }
  return { bytes: Buffer.concat(chunks) };
}

interface LintedFile {
  /** The lines `rollout lint` prints on stderr for the file: `FILE:LINE: PATH: MESSAGE` or `FILE: MESSAGE`. */
  problems: string[];
  documents: DocumentResult[];
}

async function lintFile(file: string): Promise<LintedFile> {
  const name = file === "-" ? STDIN : file;
  const input = await readInput(file);
  if ("problem" in input) return { problems: [input.problem], documents: [] };
  const decoded = decodeManifest(input.bytes);
  if (!decoded.ok) {
    return {
      problems: [`${name}${decoded.line ? `:${decoded.line}` : ""}: ${decoded.message}`],
      documents: [],
    };
  }
  const documents = parseDocuments(decoded.text, { otherKinds: "skip" });
  if (documents.length === 0)
    return {
      problems: [`${name}: has no document, only comments; expected a Rollout or SLOProfile`],
      documents: [],
    };
  const problems = documents.flatMap((document) =>
    document.errors.map((error) => `${name}:${error.line}: ${error.path}: ${error.message}`),
  );
  return { problems, documents };
}

/** "3 documents valid (1 Rollout, 2 SLOProfile); 7 other documents skipped", the breakdown only when some were. */
function summary(valid: DocumentResult[], skipped: number): string {
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  const line = `${plural(valid.length, "document")} valid`;
  if (skipped === 0) return line;
  const kinds = new Map<string, number>();
  for (const { object } of valid) if (object) kinds.set(object.kind, (kinds.get(object.kind) ?? 0) + 1);
  const breakdown = [...kinds].map(([kind, n]) => `${n} ${kind}`).join(", ");
  return `${line}${breakdown ? ` (${breakdown})` : ""}; ${plural(skipped, "other document")} skipped`;
}

/** `rollout lint FILE...`: checks Rollout and SLOProfile manifests without a cluster. */
export function lintCommand(): Command {
  return new Command("lint")
    .description("validate Rollout and SLOProfile YAML files without a cluster")
    .argument(
      "<files...>",
      "YAML files, each with one or more documents separated by ---; - reads stdin; other kinds are skipped",
    )
    .option("--rps <n>", "the service's requests per second: warn about analysis steps too short to pass")
    .action(async (files: string[], options: { rps?: string }) => {
      const rps = options.rps === undefined ? undefined : Number(options.rps);
      if (rps !== undefined && !(Number.isFinite(rps) && rps > 0)) {
        console.error(`--rps must be a positive number of requests per second, not "${options.rps}"`);
        process.exitCode = EXIT.invalidInput;
        return;
      }
      if (files.filter((file) => file === "-").length > 1) {
        console.error("- (stdin) may be given once");
        process.exitCode = EXIT.invalidInput;
        return;
      }
      const parsed: { file: string; document: DocumentResult }[] = [];
      /** Files whose documents are all of other kinds: a note, an error only when no file has ours. */
      const onlyOthers: { name: string; others: number }[] = [];
      let failed = false;
      for (const file of files) {
        const name = file === "-" ? STDIN : file;
        let result: LintedFile;
        try {
          result = await lintFile(file);
        } catch (error) {
          // a bug, not the file's fault; still one line, never a stack trace
          result = {
            problems: [`${name}: cannot lint: ${(error as Error).message.split("\n")[0]}`],
            documents: [],
          };
        }
        for (const problem of result.problems) console.error(problem);
        failed ||= result.problems.length > 0;
        for (const document of result.documents) parsed.push({ file: name, document });
        const others = result.documents.filter((d) => d.other).length;
        if (others > 0 && others === result.documents.length) onlyOthers.push({ name, others });
      }
      const ours = parsed.filter(({ document }) => !document.other);
      // a run that found nothing of ours to check was pointed at the wrong files: then it is an error
      const nothingOfOurs = ours.length === 0;
      for (const { name, others } of onlyOthers) {
        const skipped = `${others} document${others === 1 ? "" : "s"} skipped`;
        console.error(
          nothingOfOurs
            ? `${name}: has no Rollout or SLOProfile, only other kinds (${skipped})`
            : `${name}: note: no Rollout or SLOProfile here, only other kinds (${skipped})`,
        );
      }
      failed ||= onlyOthers.length > 0 && nothingOfOurs;
      try {
        for (const problem of checkRoutes(lintedRollouts(parsed), lintedObjects(parsed))) {
          console.error(`${problem.file}:${problem.line}: ${problem.path}: ${problem.message}`);
          failed = true;
        }
      } catch (error) {
        // a bug, as in lintFile: one line, never a stack trace
        console.error(`cannot check the Rollouts' route objects: ${(error as Error).message.split("\n")[0]}`);
        failed = true;
      }
      if (rps !== undefined) await warnShortSteps(parsed, rps);
      const valid = ours.filter(({ document }) => document.object).map(({ document }) => document);
      if (!failed) console.log(summary(valid, parsed.length - ours.length));
      process.exitCode = failed ? EXIT.invalidInput : EXIT.ok;
    });
}

function lintedRollouts(parsed: { file: string; document: DocumentResult }[]): LintedRollout[] {
  return parsed.flatMap(({ file, document }) =>
    document.object?.kind === "Rollout" && document.lineOf
      ? [{ file, line: document.line, rollout: document.object as Rollout, lineOf: document.lineOf }]
      : [],
  );
}

function lintedObjects(parsed: { file: string; document: DocumentResult }[]): LintedObject[] {
  return parsed.flatMap(({ file, document }) =>
    document.other ? [{ file, line: document.line, object: document.other }] : [],
  );
}
