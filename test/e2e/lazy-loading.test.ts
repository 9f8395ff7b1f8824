/**
 * Commands load only what they use: the real CLI runs with a Node module hook (registered with --import)
 * that writes down every module it resolves, and the packages among them are compared with what the
 * command needs. `--help` and `--version` load commander alone; `lint` no Kubernetes client, Ink or
 * controller; a cluster command the Kubernetes client but not Ink (the TUI loads it when it shows);
 * `watch` in a terminal writes its first frame before the Kubernetes client is even resolved.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
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
  // in the main thread: writes down, in the same log, when the TUI's first frame is written
  await writeFile(
    join(dir, "frames.mjs"),
    `import { appendFileSync } from "node:fs";
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  if (String(chunk).includes("connecting to the cluster")) appendFileSync(process.env.LOADED_LOG, "FIRST FRAME\\n");
  return write(chunk, ...rest);
};
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The npm package a resolved module's URL belongs to, or undefined for the project's own files and Node's. */
function packageOf(url: string): string | undefined {
  const path = url.split("/node_modules/").at(-1)!;
  if (path === url) return undefined;
  const parts = path.split("/");
  return path.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** The modules `rollout ARGS` resolves, as URLs, in order. */
async function modulesLoadedBy(args: string[], exitCode = 0): Promise<string[]> {
  const log = join(dir, `${args.join("_").replace(/\W/g, "_")}.log`);
  await writeFile(log, "");
  const result = await run(
    process.execPath,
    ["--import", join(dir, "register.mjs"), join(ROOT, "cli/bin/rollout.js"), ...args],
    { env: { ...process.env, LOADED_LOG: log }, timeoutMs: 60_000 },
  );
  expect(result.code, result.stderr).toBe(exitCode);
  return (await readFile(log, "utf8")).split("\n").filter(Boolean);
}

/** The npm packages `rollout ARGS` loads (tsx and its esbuild, which run the sources here, left out). */
async function packagesLoadedBy(args: string[], exitCode = 0): Promise<string[]> {
  const packages = new Set<string>();
  for (const url of await modulesLoadedBy(args, exitCode)) {
    const name = packageOf(url);
    if (name) packages.add(name);
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

  it("a cluster command (status, list): the lean Kubernetes client when it runs, not Ink; not even the client for --help", async () => {
    // nothing listens on port 9 (discard): the command loads the client, connects, and exits 5
    const refused = join(dir, "refused.kubeconfig");
    await writeFile(
      refused,
      `apiVersion: v1
kind: Config
clusters: [{name: refused, cluster: {server: 'http://127.0.0.1:9'}}]
users: [{name: someone, user: {token: abc}}]
contexts: [{name: refused, context: {cluster: refused, user: someone, namespace: demo}}]
current-context: refused
`,
    );
    const modules = await modulesLoadedBy(["status", "podinfo", "--kubeconfig", refused], 5);
    const loaded = [...new Set(modules.map(packageOf).filter((name) => name !== undefined))];
    expect(loaded).toContain("@kubernetes/client-node");
    // its KubeConfig and HTTP layer, not the ~700 generated API and model classes (lean-modules.ts)
    const clientNode = modules.filter((url) => url.includes("/@kubernetes/client-node/dist/"));
    expect(clientNode).toContainEqual(expect.stringMatching(/\/dist\/config\.js$/));
    expect(
      clientNode.filter((url) => /\/dist\/gen\/(models|apis|types)\/|\/dist\/(gen\/)?index\.js$/.test(url)),
    ).toEqual([]);
    expect(loaded).not.toContain("ink");
    expect(loaded).not.toContain("react");
    expect(await packagesLoadedBy(["status", "--help"])).not.toContain("@kubernetes/client-node");
    // a command loaded after the lean-modules hook (list, the controller): zod's English messages only
    const list = await modulesLoadedBy(["list", "--kubeconfig", refused], 5);
    const locales = list.filter((url) => url.includes("/zod/v4/locales/"));
    expect([...new Set(locales.map((url) => url.split("/").at(-1)))]).toEqual(["en.js"]);
  });
});

describe("rollout watch in a terminal", () => {
  let silent: Server;
  let kubeconfig: string;

  beforeAll(async () => {
    silent = createServer(() => {}); // accepts connections and never answers: the watch stays connecting
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    kubeconfig = join(dir, "silent.kubeconfig");
    await writeFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: silent, cluster: {server: 'http://127.0.0.1:${(silent.address() as { port: number }).port}'}}]
users: [{name: someone, user: {token: abc}}]
contexts: [{name: silent, context: {cluster: silent, user: someone, namespace: demo}}]
current-context: silent
`,
    );
  });

  afterAll(() => {
    silent.close();
  });

  it("writes its first frame before the Kubernetes client is loaded", async () => {
    const log = join(dir, "watch-tty.log");
    await writeFile(log, "");
    const node = `${process.execPath} --import ${join(dir, "register.mjs")} --import ${join(dir, "frames.mjs")}`;
    const env: NodeJS.ProcessEnv = { ...process.env, LOADED_LOG: log, TERM: "xterm-256color" };
    delete env.CI; // in CI mode the TUI is not shown
    // util-linux `script` gives the command a pseudo-terminal, so it shows the TUI
    const child = spawn(
      "script",
      [
        "-qfec",
        `${node} ${join(ROOT, "cli/bin/rollout.js")} watch podinfo --kubeconfig ${kubeconfig}`,
        "/dev/null",
      ],
      { cwd: ROOT, env, stdio: "pipe" },
    );
    child.stdout.resume();
    const lines = async () => (await readFile(log, "utf8")).split("\n");
    try {
      // the frame, then the client (loaded to connect): wait for both, then compare their order
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const now = await lines();
        if (now.includes("FIRST FRAME") && now.some((url) => packageOf(url) === "@kubernetes/client-node"))
          break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      child.kill("SIGKILL");
    }
    const seen = await lines();
    const frame = seen.indexOf("FIRST FRAME");
    const client = seen.findIndex((url) => packageOf(url) === "@kubernetes/client-node");
    expect(frame, "the TUI's first frame was written").toBeGreaterThanOrEqual(0);
    expect(client, "the Kubernetes client loaded to connect").toBeGreaterThanOrEqual(0);
    expect(frame).toBeLessThan(client);
    // Ink and React are what the frame needs, so they come before it
    const ink = seen.findIndex((url) => packageOf(url) === "ink");
    expect(ink).toBeGreaterThanOrEqual(0);
    expect(ink).toBeLessThan(frame);
  });
});
