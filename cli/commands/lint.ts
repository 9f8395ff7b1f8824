import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { decodeManifest, parseDocuments } from "../../src/api/documents.ts";
import { EXIT } from "../exit-codes.ts";

/** The lines `rollout lint` prints on stderr for one file: `FILE:LINE: PATH: MESSAGE` or `FILE: MESSAGE`. */
async function lintFile(file: string): Promise<{ problems: string[]; checked: number }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    return {
      problems: [`${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`],
      checked: 0,
    };
  }
  const decoded = decodeManifest(bytes);
  if (!decoded.ok) {
    return { problems: [`${file}${decoded.line ? `:${decoded.line}` : ""}: ${decoded.message}`], checked: 0 };
  }
  const documents = parseDocuments(decoded.text);
  if (documents.length === 0)
    return {
      problems: [`${file}: has no document, only comments; expected a Rollout or SLOProfile`],
      checked: 0,
    };
  const problems = documents.flatMap((document) =>
    document.errors.map((error) => `${file}:${error.line}: ${error.path}: ${error.message}`),
  );
  return { problems, checked: documents.length };
}

/** `rollout lint FILE...`: checks Rollout and SLOProfile manifests without a cluster. */
export function lintCommand(): Command {
  return new Command("lint")
    .description("validate Rollout and SLOProfile YAML files without a cluster")
    .argument("<files...>", "YAML files, each with one or more documents separated by ---")
    .action(async (files: string[]) => {
      let failed = false;
      let checked = 0;
      for (const file of files) {
        let result: { problems: string[]; checked: number };
        try {
          result = await lintFile(file);
        } catch (error) {
          // a bug, not the file's fault; still one line, never a stack trace
          result = {
            problems: [`${file}: cannot lint: ${(error as Error).message.split("\n")[0]}`],
            checked: 0,
          };
        }
        for (const problem of result.problems) console.error(problem);
        failed ||= result.problems.length > 0;
        checked += result.checked;
      }
      if (!failed) console.log(`${checked} document${checked === 1 ? "" : "s"} valid`);
      process.exitCode = failed ? EXIT.invalidInput : EXIT.ok;
    });
}
