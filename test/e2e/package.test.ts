/**
 * The package as a user gets it: `npm pack` (which builds through `prepare`), then `npm install` of the
 * tarball into an empty folder, and the installed bins run from there: `rollout --version`, `lint`,
 * `completion bash` (sourced into a real bash, which then completes), `kubectl stepwise --help` (kubectl
 * finds the plugin on $PATH) and `sandbox api` (started, asked by kubectl, stopped). Then a pipeline's
 * TypeScript imports the library entry, type-checked with tsc against the installed package.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../integration/manifests/support.ts";
import { ROOT } from "../support/cluster.ts";

let dir: string;
let tarball: string;
let packed: string[];
let env: NodeJS.ProcessEnv;
const version = (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string })
  .version;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stepwise-package-"));
  const pack = await run("npm", ["pack", "--json", "--pack-destination", dir], { timeoutMs: 240_000 });
  expect(pack.code, pack.stderr).toBe(0);
  // npm prints the prepare script's output before the JSON
  const report = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[\n"))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(dir, report[0]!.filename);
  packed = report[0]!.files.map((f) => f.path);
  const project = join(dir, "project");
  const install = await run(
    "npm",
    ["install", "--prefix", project, "--prefer-offline", "--no-audit", "--no-fund", tarball],
    { timeoutMs: 300_000 },
  );
  expect(install.code, install.stderr).toBe(0);
  dir = project;
  // the installed bins first on $PATH, as `npm install -g` or a shell's node_modules/.bin would put them
  env = { ...process.env, PATH: `${join(dir, "node_modules/.bin")}:${process.env.PATH}`, NO_COLOR: "1" };
}, 600_000);

afterAll(async () => {
  if (dir) await rm(join(dir, ".."), { recursive: true, force: true });
});

const inProject = (command: string, args: string[]) =>
  run(command, args, { cwd: dir, env, timeoutMs: 60_000 });

describe("the packed package", () => {
  it("holds the compiled build, the CRDs, the SLO profiles, README and LICENSE, and no tests or sources", () => {
    for (const file of [
      "package.json",
      "README.md",
      "LICENSE",
      "dist/cli/main.js",
      "dist/cli/kubectl-stepwise.js",
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/src/sandbox/kube-api/crds/istio-networking.yaml",
      "manifests/crds/rollouts.stepwise.dev.yaml",
      "slo-profiles/http-availability.yaml",
    ])
      expect(packed, file).toContain(file);
    expect(packed.filter((f) => /(^|\/)test\/|\.test\.|^bench\/|^docs\//.test(f))).toEqual([]);
    expect(packed.filter((f) => /\.tsx?$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
  });

  it("npx rollout --version, lint and completion bash work from the installed package", async () => {
    const versionRun = await inProject("npx", ["--no-install", "rollout", "--version"]);
    expect(versionRun.stdout.trim(), versionRun.stderr).toBe(version);

    const profile = join(dir, "node_modules/@stepwise-dev/rollout/slo-profiles/http-latency.yaml");
    const lint = await inProject("npx", ["--no-install", "rollout", "lint", profile]);
    expect([lint.code, lint.stdout.trim(), lint.stderr]).toEqual([0, "1 document valid", ""]);
    const broken = join(dir, "broken.yaml");
    await writeFile(
      broken,
      "apiVersion: stepwise.dev/v1alpha1\nkind: Rollout\nmetadata: {name: x}\nspec: {}\n",
    );
    const bad = await inProject("npx", ["--no-install", "rollout", "lint", broken]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${broken}:`);

    const completion = await inProject("npx", ["--no-install", "rollout", "completion", "bash"]);
    expect(completion.code, completion.stderr).toBe(0);
    // a real bash loads the script and completes `rollout sta` and `rollout list -o `
    const script = join(dir, "rollout.bash");
    await writeFile(script, completion.stdout);
    const complete = (line: string) =>
      inProject("bash", [
        "-c",
        `source ${script}; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _rollout_completion; echo "\${COMPREPLY[*]}"`,
      ]);
    expect((await complete("rollout sta")).stdout.trim()).toBe("start status");
    expect((await complete("rollout list -o ''")).stdout.trim()).toBe("json yaml");
    expect((await complete("rollout completion ''")).stdout.trim()).toBe("bash zsh fish");
  });

  it("kubectl finds the kubectl-stepwise plugin on $PATH: kubectl stepwise --help", async () => {
    const help = await inProject("kubectl", ["stepwise", "--help"]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: kubectl stepwise \[options\] \[command\]/);
    expect(help.stdout).toContain("status [options] <rollout>");
    const plugins = await inProject("kubectl", ["plugin", "list"]);
    expect(plugins.stdout).toContain(join(dir, "node_modules/.bin/kubectl-stepwise"));
  });

  it("rollout sandbox api starts, answers kubectl, and stops on SIGTERM", async () => {
    const kubeconfig = join(dir, "kubeconfig");
    const child: ChildProcess = spawn(
      join(dir, "node_modules/.bin/rollout"),
      ["sandbox", "api", "--port", "0", "--kubeconfig", kubeconfig],
      { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const ready = await new Promise<string>((resolve, reject) => {
        let out = "";
        let err = "";
        child.stdout!.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          const line = /^ready (\S+)$/m.exec(out);
          if (line) resolve(line[1]!);
        });
        child.stderr!.on("data", (chunk: Buffer) => {
          err += chunk.toString();
        });
        child.on("exit", (code) => reject(new Error(`sandbox api exited ${code}: ${err}`)));
      });
      expect(ready).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const namespaces = await inProject("kubectl", [
        "--kubeconfig",
        kubeconfig,
        "get",
        "namespaces",
        "-o",
        "name",
      ]);
      expect(namespaces.stdout).toContain("namespace/default");
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a pipeline imports the library: the schemas and the client, typed", async () => {
    const pipeline = join(dir, "pipeline.mts");
    await writeFile(
      pipeline,
      `import { parseRollout, RolloutClient, type Rollout, type RolloutSnapshot } from "@stepwise-dev/rollout";
const result = parseRollout({ apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout", metadata: { name: "x" }, spec: {} });
const rollout: Rollout | undefined = result.ok ? result.value : undefined;
const watch: (name: string) => AsyncGenerator<RolloutSnapshot> = RolloutClient.prototype.watch;
console.log(result.ok, rollout === undefined, typeof watch, typeof RolloutClient.fromKubeconfig);
`,
    );
    const tsc = await run(
      process.execPath,
      [
        join(ROOT, "node_modules/typescript/bin/tsc"),
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--target",
        "es2023",
        "--skipLibCheck",
        pipeline,
      ],
      { cwd: dir, env, timeoutMs: 120_000 },
    );
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.code).toBe(0);
    // and at run time, as plain JavaScript
    const script = join(dir, "pipeline.mjs");
    await writeFile(
      script,
      `import { parseRollout, RolloutClient } from "@stepwise-dev/rollout";
const result = parseRollout({ apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout", metadata: { name: "x" }, spec: {} });
console.log(result.ok, result.ok ? "" : result.errors[0].path, typeof RolloutClient.fromKubeconfig);
`,
    );
    const node = await inProject(process.execPath, [script]);
    expect(node.stderr).toBe("");
    expect(node.stdout.trim()).toMatch(/^false spec\.\S+ function$/);
  });
});
