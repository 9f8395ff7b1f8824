/**
 * The Dockerfile, read rather than built (no Docker engine in CI): multi-stage, production dependencies
 * only, a numeric non-root user that matches the Deployment, the entrypoint the Deployment's args expect,
 * and a build context (.dockerignore) holding exactly what it copies. Then the image's file layout is staged
 * in a temporary directory and the CLI run from there, so nothing outside what the image copies is needed.
 */
import { cp, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { find, kustomize, ROOT, rolloutCli } from "./support.ts";

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

let dockerfile: ReturnType<typeof stages>;
let ignore: string[];
let deployment: Json;

beforeAll(async () => {
  dockerfile = stages(await readFile(join(ROOT, "Dockerfile"), "utf8"));
  ignore = (await readFile(join(ROOT, ".dockerignore"), "utf8"))
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  deployment = find(await kustomize("manifests"), "Deployment", "stepwise-controller") as KubeObject as Json;
});

const final = () => dockerfile.at(-1)!;
const instructions = (keyword: string) => final().instructions.filter((i) => i.keyword === keyword);

describe("the Dockerfile", () => {
  it("is multi-stage and installs production dependencies only, from the lockfile", () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    const installs = dockerfile
      .flatMap((s) => s.instructions)
      .filter((i) => /\bnpm (ci|install)\b/.test(i.args));
    expect(installs).toHaveLength(1);
    expect(installs[0]!.args).toMatch(/\bnpm ci\b/);
    expect(installs[0]!.args).toContain("--omit=dev");
    // the runtime stage takes node_modules from that stage and installs nothing itself
    const fromStage = instructions("COPY").filter((i) => i.args.startsWith("--from="));
    expect(fromStage.map((i) => i.args)).toEqual([
      `--from=${dockerfile.find((s) => s.instructions.includes(installs[0]!))!.name} /app/node_modules ./node_modules`,
    ]);
    expect(
      final().instructions.some(
        (i) => /\bnpm\b/.test(i.args) && i.keyword === "RUN" && !i.args.startsWith("rm "),
      ),
    ).toBe(false);
  });

  it("runs as the numeric non-root user the Deployment names", () => {
    const user = instructions("USER").at(-1)!.args;
    expect(user).toMatch(/^\d+:\d+$/);
    const [uid, gid] = user.split(":").map(Number);
    expect(uid).toBeGreaterThan(0);
    const pod = deployment.spec.template.spec.securityContext;
    expect([pod.runAsUser, pod.runAsGroup]).toEqual([uid, gid]);
  });

  it("has the entrypoint the Deployment's args are written for, and exposes its metrics port", () => {
    expect(JSON.parse(instructions("ENTRYPOINT").at(-1)!.args)).toEqual(["node", "cli/bin/rollout.js"]);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.command).toBeUndefined();
    expect(container.args[0]).toBe("controller");
    expect(JSON.parse(instructions("CMD").at(-1)!.args)[0]).toBe("controller");
    const port = container.ports.find((p: Json) => p.name === "metrics").containerPort;
    expect(instructions("EXPOSE").map((i) => i.args)).toContain(String(port));
  });

  it("copies only paths the build context holds, and the context holds nothing else of note", () => {
    const sources = dockerfile
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from="))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(
      expect.arrayContaining(["package.json", "package-lock.json", "cli", "src", "slo-profiles"]),
    );
    for (const source of sources) expect(inContext(ignore, source), source).toBe(true);
    for (const left of [
      "node_modules",
      "node_modules/tsx/package.json",
      ".git",
      "test",
      "test/unit/x.ts",
      "bench",
      "docs",
      "manifests",
      "README.md",
      "cli/x.test.ts",
    ])
      expect(inContext(ignore, left), left).toBe(false);
  });
});

describe("what the image holds", () => {
  let staged: string;
  let temp: string;

  beforeAll(async () => {
    staged = await mkdtemp(join(tmpdir(), "stepwise-image-"));
    temp = await mkdtemp(join(tmpdir(), "stepwise-image-tmp-"));
    const sources = final()
      .instructions.filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from="))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const source of sources) {
      await cp(join(ROOT, source), join(staged, source), {
        recursive: true,
        filter: (path) => inContext(ignore, relative(ROOT, path) || "."),
      });
    }
    // the dependencies stage's node_modules; here the repository's (a superset: dev dependencies too,
    // which the next test rules out by reading the imports)
    await symlink(join(ROOT, "node_modules"), join(staged, "node_modules"), "dir");
  });

  afterAll(async () => {
    await rm(staged, { recursive: true, force: true });
    await rm(temp, { recursive: true, force: true });
  });

  it("imports at run time only production dependencies and Node's own modules", async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const files = (await readdir(staged, { recursive: true }))
      .filter((f) => /\.(ts|tsx|js|mjs)$/.test(f) && !f.startsWith("node_modules"))
      .map((f) => join(staged, f));
    expect(files.length).toBeGreaterThan(20);
    const packages = new Set<string>();
    for (const file of files) {
      const text = await readFile(file, "utf8");
      const specifiers = [
        ...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\sfrom\s+["']([^"']+)["']/gms),
        ...text.matchAll(/^\s*import\s+["']([^"']+)["']/gm),
        ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
      ].map((m) => m[1]!);
      if (file.endsWith(".tsx")) specifiers.push("react/jsx-runtime");
      for (const specifier of specifiers) {
        if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) continue;
        const parts = specifier.split("/");
        packages.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
      }
    }
    expect(packages).toContain("@kubernetes/client-node");
    expect([...packages].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  });

  it("runs the CLI from the image's layout alone, with only $TMPDIR writable", async () => {
    const env = { ...process.env, NODE_ENV: "production", TMPDIR: temp };
    // cli/main.ts imports every command (the controller's too) before it runs one: this loads all of
    // them; and the built-in SLO profiles ship in the image and parse
    const lint = await rolloutCli(
      [
        "lint",
        "slo-profiles/http-availability.yaml",
        "slo-profiles/http-latency.yaml",
        "slo-profiles/grpc-availability.yaml",
      ],
      { cwd: staged, env },
    );
    expect(lint.stderr).toBe("");
    expect(lint.stdout.trim()).toBe("3 documents valid");
    expect(lint.code).toBe(0);
  });
});
