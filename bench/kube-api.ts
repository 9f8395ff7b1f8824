// Throughput and watch latency of the Kubernetes API emulator over loopback HTTP.
// Run with `npx tsx bench/kube-api.ts`. Client and server share this process (and its event loop).
import { Agent, request } from "node:http";
import { startKubeApi } from "../src/sandbox/kube-api/index.ts";

const OBJECTS = 1000;
const CLIENTS = 16;
const WATCHERS = 50;
const WRITES = 200;
const SECONDS = 3;
const NAMESPACE = "bench";

const api = await startKubeApi({ watchHistorySize: 50_000 });
const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
const auth = { Authorization: `Bearer ${api.token}` };

function send(
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; json: { metadata?: { resourceVersion?: string } } }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${api.url}${path}`,
      { method, agent, headers: { ...auth, "Content-Type": contentType } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString() || "{}"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const base = `/api/v1/namespaces/${NAMESPACE}/configmaps`;
const pick = () => `cm-${Math.floor(Math.random() * OBJECTS)}`;

/** Runs `op` from CLIENTS concurrent loops for SECONDS and returns requests per second. */
async function throughput(op: (i: number) => Promise<{ status: number }>): Promise<number> {
  const deadline = Date.now() + SECONDS * 1000;
  let count = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) {
        const { status } = await op(count);
        if (status >= 300) throw new Error(`unexpected status ${status}`);
        count++;
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

await send("POST", "/api/v1/namespaces", { metadata: { name: NAMESPACE } });
for (let i = 0; i < OBJECTS; i += CLIENTS) {
  await Promise.all(
    Array.from({ length: Math.min(CLIENTS, OBJECTS - i) }, (_, j) =>
      send("POST", base, { metadata: { name: `cm-${i + j}`, labels: { bench: "yes" } }, data: { n: "0" } }),
    ),
  );
}

const getRate = await throughput(() => send("GET", `${base}/${pick()}`));
const patchRate = await throughput((i) =>
  send("PATCH", `${base}/${pick()}`, { data: { n: String(i) } }, "application/merge-patch+json"),
);

// Watch delay: WATCHERS open watches, then WRITES patches; each event's arrival is timed against its write's start.
const startRv = api.resourceVersion();
const arrivals: Map<string, number>[] = [];
const watchAgent = new Agent({ keepAlive: false, maxSockets: WATCHERS });
await Promise.all(
  Array.from({ length: WATCHERS }, () => {
    const seen = new Map<string, number>();
    arrivals.push(seen);
    return new Promise<void>((resolve) => {
      const req = request(
        `${api.url}${base}?watch=1&resourceVersion=${startRv}`,
        { agent: watchAgent, headers: auth },
        (res) => {
          let buffer = "";
          res.on("data", (chunk: Buffer) => {
            const now = performance.now();
            buffer += chunk.toString();
            let newline = buffer.indexOf("\n");
            while (newline >= 0) {
              const event = JSON.parse(buffer.slice(0, newline)) as {
                object: { metadata: { resourceVersion: string } };
              };
              seen.set(event.object.metadata.resourceVersion, now);
              buffer = buffer.slice(newline + 1);
              newline = buffer.indexOf("\n");
            }
          });
          resolve();
        },
      );
      req.end();
    });
  }),
);
while (api.watchCount() < WATCHERS) await new Promise((r) => setTimeout(r, 10));

const writeStarted = new Map<string, number>();
for (let i = 0; i < WRITES; i += 4) {
  await Promise.all(
    Array.from({ length: 4 }, async (_, j) => {
      const at = performance.now();
      const { json } = await send(
        "PATCH",
        `${base}/${pick()}`,
        { data: { w: String(i + j) } },
        "application/merge-patch+json",
      );
      writeStarted.set(json.metadata?.resourceVersion ?? "", at);
    }),
  );
}
const deadline = Date.now() + 5000;
while (
  Date.now() < deadline &&
  arrivals.some((seen) => [...writeStarted.keys()].some((rv) => !seen.has(rv)))
) {
  await new Promise((r) => setTimeout(r, 10));
}
const delays: number[] = [];
for (const seen of arrivals) {
  for (const [rv, at] of writeStarted) {
    const arrived = seen.get(rv);
    if (arrived !== undefined) delays.push(arrived - at);
  }
}
delays.sort((a, b) => a - b);

api.faults.closeWatches();
agent.destroy();
watchAgent.destroy();
await api.close();

const rows: [string, string][] = [
  [`GET req/s (${CLIENTS} keep-alive clients, ${OBJECTS} objects)`, getRate.toFixed(0)],
  [`PATCH req/s (merge patch, ${CLIENTS} clients)`, patchRate.toFixed(0)],
  [`write-to-event p50 (${WATCHERS} watchers)`, `${percentile(delays, 50).toFixed(2)} ms`],
  [`write-to-event p99 (${WATCHERS} watchers)`, `${percentile(delays, 99).toFixed(2)} ms`],
  ["events delivered / expected", `${delays.length} / ${WATCHERS * writeStarted.size}`],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log(`${"metric".padEnd(width)} | value`);
console.log(`${"-".repeat(width)}-|-${"-".repeat(12)}`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);
