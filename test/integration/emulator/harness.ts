import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { type KubeApi, type KubeApiOptions, startKubeApi } from "../../../src/sandbox/kube-api/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary API JSON, which a precise type would only obscure
export type Json = Record<string, any>;

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running emulator with a kubeconfig on disk, a kubectl wrapper and a client-node config. */
export interface Harness {
  api: KubeApi;
  dir: string;
  kubeconfigPath: string;
  kc: k8s.KubeConfig;
  kubectl(args: string[], input?: string): Promise<CommandResult>;
  /** kubectl that must succeed; returns stdout. */
  kubectlOk(args: string[], input?: string): Promise<string>;
  close(): Promise<void>;
}

export function run(
  command: string,
  args: string[],
  input?: string,
  timeoutMs = 20_000,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

export async function startHarness(options: KubeApiOptions = {}): Promise<Harness> {
  const api = await startKubeApi(options);
  const dir = await mkdtemp(join(tmpdir(), "kube-api-"));
  const kubeconfigPath = join(dir, "kubeconfig");
  await api.writeKubeconfig(kubeconfigPath);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const kubectl = (args: string[], input?: string) =>
    run("kubectl", ["--kubeconfig", kubeconfigPath, "--cache-dir", join(dir, "cache"), ...args], input);
  return {
    api,
    dir,
    kubeconfigPath,
    kc,
    kubectl,
    async kubectlOk(args, input) {
      const result = await kubectl(args, input);
      if (result.code !== 0)
        throw new Error(`kubectl ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
      return result.stdout;
    },
    async close() {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`condition not met in ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ""}`);
}

/** A raw HTTP call with the kubeconfig's token, for what typed clients cannot express. */
export async function raw(
  api: KubeApi,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Json }> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${api.token}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}
