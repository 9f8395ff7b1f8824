/**
 * Commands load only what they use: the real CLI runs with a Node module hook (registered with --import)
 * that writes down every module it resolves, and the packages among them are compared with what the
 * command needs. `--help` and `--version` load commander alone; `lint` no Kubernetes client, Ink or
 * controller; a cluster command the Kubernetes client but not Ink (the TUI loads it when it shows).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../integration/manifests/support.ts";
import { ROOT } from "../support/cluster.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stepwise-loaded-"));
  await writeFile(
    join(dir, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.LOADED_LOG, result.url + "\\n");
  return result;
}
`,
  );
  await writeFile(
    join(dir, "register.mjs"),
    `import { register } from "node:module";\nregister(new URL("./hooks.mjs", import.meta.url));\n`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The npm packages `rollout ARGS` loads (tsx and its esbuild, which run the sources here, left out). */
async function packagesLoadedBy(args: string[]): Promise<string[]> {
  const log = join(dir, `${args.join("_").replace(/\W/g, "_")}.log`);
  await writeFile(log, "");
  const result = await run(
    process.execPath,
    ["--import", join(dir, "register.mjs"), join(ROOT, "cli/bin/rollout.js"), ...args],
    { env: { ...process.env, LOADED_LOG: log }, timeoutMs: 60_000 },
  );
  expect(result.code, result.stderr).toBe(0);
  const packages = new Set<string>();
  for (const url of (await readFile(log, "utf8")).split("\n")) {
    const path = url.split("/node_modules/").at(-1)!;
    if (path === url) continue;
    const parts = path.split("/");
    packages.add(path.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  packages.delete("tsx");
  packages.delete("esbuild");
  return [...packages].sort();
}

const HEAVY = ["@kubernetes/client-node", "ink", "react", "pino", "prom-client"];

describe("what a command loads", () => {
  it("--help and --version: commander alone", async () => {
    expect(await packagesLoadedBy(["--help"])).toEqual(["commander"]);
    expect(await packagesLoadedBy(["--version"])).toEqual(["commander"]);
  });

  it("lint FILE: the schemas and YAML, no Kubernetes client, Ink or controller", async () => {
    const loaded = await packagesLoadedBy(["lint", "slo-profiles/http-latency.yaml"]);
    expect(loaded).toEqual(expect.arrayContaining(["commander", "yaml", "zod"]));
    expect(loaded.filter((name) => HEAVY.includes(name))).toEqual([]);
  });

  it("a cluster command (status): the Kubernetes client, not Ink", async () => {
    const loaded = await packagesLoadedBy(["status", "--help"]);
    expect(loaded).toContain("@kubernetes/client-node");
    expect(loaded).not.toContain("ink");
    expect(loaded).not.toContain("react");
  });
});
