// Prints or writes manifests/crds from the zod schemas: `npm run gen:crds` (writes), `--check` (exit 1 on drift).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderCrdFiles } from "../src/api/crds.ts";

const dir = join(import.meta.dirname, "..", "manifests", "crds");
const check = process.argv.includes("--check");
let drift = false;
for (const [name, text] of Object.entries(renderCrdFiles())) {
  const path = join(dir, name);
  if (!check) await writeFile(path, text);
  else if ((await readFile(path, "utf8").catch(() => "")) !== text) {
    console.error(`${path} differs from the schemas; run npm run gen:crds`);
    drift = true;
  }
}
process.exitCode = drift ? 1 : 0;
