/**
 * The Dockerfile, read rather than built (no Docker engine in CI, and no Dockerfile linter in Debian or a
 * maintained one on npm): a build stage that runs package.json's build script, a production-dependencies
 * stage, a runtime that takes dist/ and node_modules from them; a numeric non-root user that matches the
 * Deployment; the entrypoint the package's `rollout` bin names; the Node major engines.node asks for; and a
 * build context (.dockerignore) holding exactly what it copies, all of which exists. Then its stages are
 * carried out without an engine, each in a temporary directory (the build for real, `npm ci` by linking
 * the repository's node_modules) and the CLI run from the runtime's layout alone.
 */
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { find, kustomize, ROOT, run } from "./support.ts";

// biome-ignore lint/suspicious/noExplicitAny: reads Kubernetes objects, which a precise type would only obscure
type Json = Record<string, any>;

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions (comments dropped, continuation lines joined), grouped by stage. */
function stages(text: string): { from: string; name?: string; instructions: Instruction[] }[] {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const out: { from: string; name?: string; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (keyword!.toUpperCase() === "FROM") {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args!)!;
      out.push({ from: from!, ...(name ? { name } : {}), instructions: [] });
    } else out.at(-1)?.instructions.push({ keyword: keyword!.toUpperCase(), args: args! });
  }
  return out;
}

/** A .dockerignore pattern as a regular expression: `**` any path, `*` and `?` within one path segment. */
function globToRegex(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      const slash = pattern[i + 2] === "/";
      out += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** Whether .dockerignore lets `path` into the build context (last matching pattern wins; `!` re-includes). */
function inContext(patterns: string[], path: string): boolean {
  let included = true;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const regex = globToRegex((negated ? raw.slice(1) : raw).replace(/\/+$/, ""));
    // a pattern that matches a parent directory matches everything in it
    const parts = path.split("/");
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    if (candidates.some((candidate) => regex.test(candidate))) included = negated;
  }
  return included;
}

interface PackageJson {
  scripts: Record<string, string>;
  bin: Record<string, string>;
  engines: { node: string };
  dependencies: Record<string, string>;
}

let dockerfileText: string;
let dockerfile: ReturnType<typeof stages>;
let ignore: string[];
let deployment: Json;
let pkg: PackageJson;

beforeAll(async () => {
  dockerfileText = await readFile(join(ROOT, "Dockerfile"), "utf8");
  dockerfile = stages(dockerfileText);
  ignore = (await readFile(join(ROOT, ".dockerignore"), "utf8"))
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  deployment = find(await kustomize("manifests"), "Deployment", "stepwise-controller") as KubeObject as Json;
  pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as PackageJson;
});

const final = () => dockerfile.at(-1)!;
const stage = (name: string) => dockerfile.find((s) => s.name === name)!;
const instructions = (keyword: string) => final().instructions.filter((i) => i.keyword === keyword);
/** A COPY's sources and destination (`--from=STAGE` dropped into `from`). */
const copyOf = (i: Instruction) => {
  const words = i.args.split(/\s+/);
  const from = words[0]!.startsWith("--from=") ? words.shift()!.slice("--from=".length) : undefined;
  return { from, sources: words.slice(0, -1), dest: words.at(-1)! };
};
const copies = (s: { instructions: Instruction[] }) =>
  s.instructions.filter((i) => i.keyword === "COPY").map(copyOf);
const runs = (s: { instructions: Instruction[] }) =>
  s.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);

describe("the Dockerfile", () => {
  it("builds with package.json's build script, installs production dependencies only for the runtime, from the lockfile", () => {
    expect(dockerfile.map((s) => s.name)).toEqual(["build", "dependencies", "runtime"]);
    const build = stage("build");
    expect(runs(build)).toEqual([expect.stringMatching(/^npm ci --ignore-scripts\b/), "npm run build"]);
    expect(pkg.scripts.build).toContain("tsc -p tsconfig.build.json");
    // the build reads the compiler settings it copies
    expect(copies(build).flatMap((c) => c.sources)).toEqual(
      expect.arrayContaining([
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "tsconfig.build.json",
        "cli",
        "src",
      ]),
    );
    expect(runs(stage("dependencies"))).toEqual([
      expect.stringMatching(/^npm ci --omit=dev --ignore-scripts\b/),
    ]);
    // the runtime takes node_modules from the production stage and dist/ from the build; it installs nothing
    expect(copies(final()).filter((c) => c.from)).toEqual([
      { from: "dependencies", sources: ["/app/node_modules"], dest: "./node_modules" },
      { from: "build", sources: ["/app/dist"], dest: "./dist" },
    ]);
    expect(runs(final()).every((args) => args.startsWith("rm -rf "))).toBe(true);
  });

  it("starts from the Node major package.json's engines ask for", () => {
    const arg = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfileText);
    expect(arg, "ARG NODE_IMAGE=node:<major>-...").not.toBeNull();
    expect(pkg.engines.node).toMatch(new RegExp(`^>=${arg![1]}\\.`));
    for (const s of dockerfile) expect(s.from).toMatch(/^\$\{NODE_IMAGE\}$/);
  });

  it("runs as the numeric non-root user the Deployment names", () => {
    const user = instructions("USER").at(-1)!.args;
    expect(user).toMatch(/^\d+:\d+$/);
    const [uid, gid] = user.split(":").map(Number);
    expect(uid).toBeGreaterThan(0);
    const pod = deployment.spec.template.spec.securityContext;
    expect([pod.runAsUser, pod.runAsGroup]).toEqual([uid, gid]);
  });

  it("has the package's rollout bin as its entrypoint, the one the Deployment's args are written for, and exposes its metrics port", () => {
    expect(JSON.parse(instructions("ENTRYPOINT").at(-1)!.args)).toEqual(["node", pkg.bin.rollout]);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.command).toBeUndefined();
    expect(container.args[0]).toBe("controller");
    expect(JSON.parse(instructions("CMD").at(-1)!.args)[0]).toBe("controller");
    const port = container.ports.find((p: Json) => p.name === "metrics").containerPort;
    expect(instructions("EXPOSE").map((i) => i.args)).toContain(String(port));
  });

  it("copies only paths that exist and that the build context holds, and the context holds nothing else of note", () => {
    const sources = dockerfile.flatMap((s) =>
      copies(s)
        .filter((c) => !c.from)
        .flatMap((c) => c.sources),
    );
    expect(sources).toEqual(
      expect.arrayContaining([
        "package.json",
        "package-lock.json",
        "cli",
        "src",
        "slo-profiles",
        "manifests/crds",
      ]),
    );
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
      expect(inContext(ignore, source), source).toBe(true);
    }
    for (const left of [
      "node_modules",
      "node_modules/tsx/package.json",
      "dist",
      ".git",
      "test",
      "test/unit/x.ts",
      "bench",
      "docs",
      "manifests",
      "manifests/controller/deployment.yaml",
      "README.md",
      "cli/x.test.ts",
      "cli/bin/rollout.js",
    ])
      expect(inContext(ignore, left), left).toBe(false);
  });
});

describe("what the image holds", () => {
  /** Each stage's WORKDIR, a temporary directory. */
  const dirs = new Map<string, string>();
  let temp: string;

  /**
   * Carries out a stage: COPY from the build context (what .dockerignore lets in) or an earlier stage,
   * `npm ci` by linking the repository's node_modules (a superset: the next test rules dev dependencies
   * out by reading the imports), `npm run build` for real; the runtime's removal of the package managers
   * outside /app is the only other RUN, and is left out.
   */
  async function carryOut(s: (typeof dockerfile)[number], dir: string): Promise<void> {
    for (const i of s.instructions) {
      if (i.keyword === "COPY") {
        const { from, sources, dest } = copyOf(i);
        for (const source of sources) {
          const target =
            sources.length > 1 || dest.endsWith("/")
              ? join(dir, dest, source.split("/").at(-1)!)
              : join(dir, dest);
          await mkdir(dirname(target), { recursive: true });
          if (from && source === "/app/node_modules")
            await symlink(join(ROOT, "node_modules"), target, "dir");
          else if (from)
            await cp(join(dirs.get(from)!, relative("/app", source)), target, { recursive: true });
          else
            await cp(join(ROOT, source), target, {
              recursive: true,
              filter: (path) => inContext(ignore, relative(ROOT, path) || "."),
            });
        }
      } else if (i.keyword === "RUN") {
        if (/^npm ci\b/.test(i.args)) {
          if (!existsSync(join(dir, "node_modules")))
            await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
        } else if (i.args === "npm run build") {
          const built = await run("npm", ["run", "build"], { cwd: dir, timeoutMs: 120_000 });
          expect(built.code, built.stderr).toBe(0);
        } else expect(i.args).toMatch(/^rm -rf \/usr\/local\//);
      }
    }
  }

  beforeAll(async () => {
    temp = await mkdtemp(join(tmpdir(), "stepwise-image-tmp-"));
    for (const s of dockerfile) {
      const dir = await mkdtemp(join(tmpdir(), `stepwise-image-${s.name}-`));
      dirs.set(s.name!, dir);
      await carryOut(s, dir);
    }
  }, 180_000);

  afterAll(async () => {
    for (const dir of [...dirs.values(), temp]) await rm(dir, { recursive: true, force: true });
  });

  it("imports at run time only production dependencies and Node's own modules", async () => {
    const runtime = dirs.get("runtime")!;
    const files = (await readdir(runtime, { recursive: true }))
      .filter((f) => /\.(js|mjs)$/.test(f) && !f.startsWith("node_modules"))
      .map((f) => join(runtime, f));
    expect(files.length).toBeGreaterThan(20);
    // compiled JavaScript only: no TypeScript source, no development entry
    expect(
      (await readdir(runtime, { recursive: true })).filter(
        (f) => /\.tsx?$/.test(f) && !f.endsWith(".d.ts") && !f.startsWith("node_modules"),
      ),
    ).toEqual([]);
    const packages = new Set<string>();
    for (const file of files) {
      const text = await readFile(file, "utf8");
      const specifiers = [
        ...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\sfrom\s+["']([^"']+)["']/gms),
        ...text.matchAll(/^\s*import\s+["']([^"']+)["']/gm),
        ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
      ].map((m) => m[1]!);
      for (const specifier of specifiers) {
        if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) continue;
        const parts = specifier.split("/");
        packages.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
      }
    }
    expect(packages).toContain("@kubernetes/client-node");
    expect(packages).toContain("react");
    expect([...packages].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  });

  it("runs the CLI from the runtime's layout alone, with only $TMPDIR writable", async () => {
    const runtime = dirs.get("runtime")!;
    const env = { ...process.env, NODE_ENV: "production", TMPDIR: temp };
    const entrypoint = JSON.parse(instructions("ENTRYPOINT").at(-1)!.args) as string[];
    const cli = (args: string[]) =>
      run(entrypoint[0] === "node" ? process.execPath : entrypoint[0]!, [...entrypoint.slice(1), ...args], {
        cwd: runtime,
        env,
      });
    // the built-in SLO profiles ship in the image and parse
    const lint = await cli([
      "lint",
      "slo-profiles/http-availability.yaml",
      "slo-profiles/http-latency.yaml",
      "slo-profiles/grpc-availability.yaml",
    ]);
    expect(lint.stderr).toBe("");
    expect(lint.stdout.trim()).toBe("3 documents valid");
    expect(lint.code).toBe(0);
    // completion loads every command's module (the controller's too): all of them load from the image
    const completion = await cli(["completion", "bash"]);
    expect(completion.stderr).toBe("");
    expect(completion.stdout).toContain("controller)");
    expect(completion.code).toBe(0);
    const version = await cli(["--version"]);
    expect(version.stdout.trim()).toBe(
      JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")).version,
    );
  });
});
