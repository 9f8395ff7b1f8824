import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { parseDocuments } from "../../src/api/documents.ts";
import { EXIT } from "../exit-codes.ts";

/** `rollout lint FILE...`: checks Rollout and SLOProfile manifests without a cluster. */
export function lintCommand(): Command {
  return new Command("lint")
    .description("validate Rollout and SLOProfile YAML files without a cluster")
    .argument("<files...>", "YAML files, each with one or more documents separated by ---")
    .action(async (files: string[]) => {
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
          for (const error of document.errors) {
            console.error(`${file}:${error.line}: ${error.path}: ${error.message}`);
            failed = true;
          }
        }
      }
      if (!failed) console.log(`${checked} document${checked === 1 ? "" : "s"} valid`);
      process.exitCode = failed ? EXIT.invalidInput : EXIT.ok;
    });
}
