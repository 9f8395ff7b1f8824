// PromQL selectors parsed and matched in the controller, and shared looks: which answer a look may reuse.
import { describe, expect, it } from "vitest";
import { loadBuiltInProfiles, sharedQueries } from "../../../src/analysis/profiles.ts";
import { formatSelector, matches, parseSelector } from "../../../src/metrics/selector.ts";
import { SharedLooks } from "../../../src/metrics/shared-looks.ts";
import { type CounterSample, type MetricsProvider, ProviderError } from "../../../src/metrics/types.ts";

describe("PromQL selectors", () => {
  it("parses a bare selector with every matcher kind and escaped strings, and prints it back", () => {
    const text = String.raw`http_total{code=~"5..", le=~"500(\\.0)?", path!="/a\"b", env!~"dev|test",job="x"}`;
    const selector = parseSelector(text);
    expect(selector).toEqual({
      metric: "http_total",
      matchers: [
        { label: "code", op: "=~", value: "5.." },
        { label: "le", op: "=~", value: String.raw`500(\.0)?` },
        { label: "path", op: "!=", value: '/a"b' },
        { label: "env", op: "!~", value: "dev|test" },
        { label: "job", op: "=", value: "x" },
      ],
    });
    expect(parseSelector(formatSelector(selector!))).toEqual(selector);
  });

  it("is not a selector when a function, an operator or a range wraps it", () => {
    for (const text of [
      "sum(x_total)",
      'x_total{a="b"} / 2',
      'x_total{a="b"}[5m]',
      'x_total{a="b"',
      "{a='b'}",
    ])
      expect(parseSelector(text), text).toBeUndefined();
  });

  it("matches as Prometheus does: anchored regexes, a missing label is empty", () => {
    const labels = { code: "503", name: "shop_web_80" };
    expect(matches(labels, { label: "code", op: "=~", value: "5.." })).toBe(true);
    expect(matches(labels, { label: "code", op: "=~", value: "5" })).toBe(false);
    expect(matches(labels, { label: "name", op: "=~", value: "shop[_/]web[_/].*" })).toBe(true);
    expect(matches(labels, { label: "name", op: "=~", value: "hop[_/]web[_/].*" })).toBe(false);
    expect(matches(labels, { label: "pod", op: "=", value: "" })).toBe(true);
    expect(matches(labels, { label: "code", op: "!~", value: "2.." })).toBe(true);
  });

  it("splits a built-in profile's query into the shared part and the population's own matchers", async () => {
    const profile = (await loadBuiltInProfiles()).get("http-availability")!;
    const target = { namespace: "shop", workload: 'we"b', service: "web" };
    const istio = sharedQueries(profile, "istio", target);
    const own = [
      { label: "destination_workload_namespace", op: "=", value: "shop" },
      { label: "destination_workload", op: "=", value: 'we"b' },
    ];
    expect(istio.total).toEqual({ shared: 'istio_requests_total{reporter="destination"}', own });
    // the bad requests are a subset of all: read from the total's answer, picked by the status matcher
    expect(istio.ratio).toEqual({
      shared: 'istio_requests_total{reporter="destination"}',
      own: [...own, { label: "response_code", op: "=~", value: "5.." }],
    });
    // the Envoy cluster name holds the namespace and the service inside a regex
    expect(sharedQueries(profile, "gateway", target).total).toEqual({
      shared: "envoy_cluster_upstream_rq",
      own: [{ label: "envoy_cluster_name", op: "=~", value: "shop[_/]web[_/].*" }],
    });
  });

  it("reads a counter from a wider one's answer only when its selector is the wider one's plus matchers", async () => {
    const latency = (await loadBuiltInProfiles()).get("http-latency")!;
    const target = { namespace: "shop", workload: "web", service: "web" };
    // good requests (a histogram bucket) and all (the _count series) are different metrics: two queries
    const queries = sharedQueries(latency, "istio", target);
    expect(queries.ratio?.shared).not.toBe(queries.total?.shared);
    expect(queries.ratio?.shared).toMatch(/^istio_request_duration_milliseconds_bucket\{/);
  });
});

describe("shared looks", () => {
  const query = (workload: string) => ({
    shared: "x_total",
    own: [{ label: "workload", op: "=" as const, value: workload }],
  });
  const recording = () => {
    const asked: number[] = [];
    let fail = false;
    const provider: MetricsProvider = {
      description: "recording",
      health: async () => {},
      queryCounts: async (_query, at): Promise<CounterSample[]> => {
        asked.push(at);
        if (fail) throw new ProviderError("unreachable", "down");
        return ["a", "b"].map((workload) => ({ labels: { workload }, value: at }));
      },
    };
    return { provider, asked, failNext: (value: boolean) => (fail = value) };
  };

  it("reads every look in one time slot from one answer at the slot's start, never a later one", async () => {
    const { provider, asked } = recording();
    const looks = new SharedLooks(provider);
    expect(await looks.read(query("a"), 11_000, 5_000)).toEqual([
      { labels: { workload: "a" }, value: 10_000 },
    ]);
    expect(await looks.read(query("b"), 14_999, 5_000)).toEqual([
      { labels: { workload: "b" }, value: 10_000 },
    ]);
    expect(asked).toEqual([10_000]);
    // the next slot is a new answer; a step's start in an earlier slot reads that slot's answer, shared too
    await looks.read(query("a"), 15_000, 5_000);
    expect(await looks.read(query("b"), 9_000, 5_000)).toEqual([{ labels: { workload: "b" }, value: 5_000 }]);
    expect(await looks.read(query("a"), 5_500, 5_000)).toEqual([{ labels: { workload: "a" }, value: 5_000 }]);
    expect(asked).toEqual([10_000, 15_000, 5_000]);
    expect(await looks.read(query("c"), 16_000, 5_000)).toEqual([]);
  });

  it("reads a step's start from the first slot at or after it, never from before the step", async () => {
    const { provider, asked } = recording();
    let wall = 12_000;
    const looks = new SharedLooks(provider, () => wall);
    // the slot after the start has not begun: nothing to read yet, and nothing is asked
    expect(looks.startSlot(11_000, 5_000)).toBe(15_000);
    expect(looks.startBegun(11_000, 5_000)).toBe(false);
    await expect(looks.readStart(query("a"), 11_000, 5_000)).rejects.toThrow(/has not begun/);
    expect(asked).toEqual([]);
    wall = 16_000;
    expect(looks.startBegun(11_000, 5_000)).toBe(true);
    expect(await looks.readStart(query("a"), 11_000, 5_000)).toEqual([
      { labels: { workload: "a" }, value: 15_000 },
    ]);
    // a start on a slot boundary reads that slot; a look in the same slot shares the answer
    expect(await looks.readStart(query("b"), 15_000, 5_000)).toEqual([
      { labels: { workload: "b" }, value: 15_000 },
    ]);
    await looks.read(query("a"), 15_500, 5_000);
    expect(asked).toEqual([15_000]);
  });

  it("drops answers no look has read for four slots", async () => {
    const { provider, asked } = recording();
    let wall = 0;
    const looks = new SharedLooks(provider, () => wall);
    await looks.read(query("a"), 10_000, 5_000);
    wall = 20_000;
    await looks.read(query("a"), 10_000, 5_000);
    wall = 40_001;
    await looks.read(query("a"), 30_000, 5_000);
    await looks.read(query("a"), 10_000, 5_000);
    expect(asked).toEqual([10_000, 30_000, 10_000]);
  });

  it("does not keep a failed answer: the next look asks again", async () => {
    const { provider, asked, failNext } = recording();
    const looks = new SharedLooks(provider);
    failNext(true);
    await expect(looks.read(query("a"), 10_000, 5_000)).rejects.toThrow("down");
    failNext(false);
    expect(await looks.read(query("a"), 10_500, 5_000)).toHaveLength(1);
    expect(asked).toEqual([10_000, 10_000]);
  });
});
