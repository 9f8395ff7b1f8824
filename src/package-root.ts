/**
 * Where the package's own files are (package.json, slo-profiles/, manifests/crds/), whether the code runs
 * from the TypeScript sources (src/, cli/) or from the compiled build (dist/src/, dist/cli/), which sit one
 * directory deeper: the nearest directory above this module that holds a package.json.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(import.meta.dirname);

/** The version in the package's package.json, read when first asked for. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string })
    .version;
}
