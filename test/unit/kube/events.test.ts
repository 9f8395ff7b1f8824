// Events correlated as client-go's recorder does, against the API emulator over HTTP: a repeat counts up
// the existing Event (one PATCH, no POST), the 10th different message of a reason is combined, and a token
// bucket per object (burst 25, one more every 5 minutes) drops the rest.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { COMBINED_PREFIX, EventRecorder } from "../../../src/kube/events.ts";
import { startTestCluster, type TestCluster } from "../../support/cluster.ts";

const NS = "shop";

interface EventObject extends KubeObject {
  reason: string;
  message: string;
  type: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  involvedObject: { name: string };
}

let cluster: TestCluster;
let serial = 0;
/** A fresh object per test, so the recorder's buckets and the Events listed are the test's own. */
let about: KubeObject;
let time: number;
let recorder: EventRecorder;

beforeAll(async () => {
  cluster = await startTestCluster({}, NS);
});
afterAll(async () => cluster?.close());
beforeEach(() => {
  serial++;
  about = {
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: `web-${serial}`, namespace: NS, uid: `uid-${serial}` },
  };
  time = Date.parse("2026-01-01T12:00:00Z");
  recorder = new EventRecorder(cluster.client, "stepwise-controller", { now: () => time });
  cluster.api.requestLog.clear();
});

const events = async () =>
  ((await cluster.client.list("v1", "Event", NS)) as EventObject[])
    .filter((event) => event.involvedObject.name === about.metadata.name)
    .map(({ reason, message, type, count, firstTimestamp, lastTimestamp }) => ({
      reason,
      message,
      type,
      count,
      firstTimestamp,
      lastTimestamp,
    }))
    .sort((a, b) => a.message.localeCompare(b.message));

const writes = () =>
  cluster.api.requestLog
    .all()
    .filter((entry) => entry.path.includes("/events") && entry.method !== "GET")
    .map((entry) => entry.method);

describe("the event recorder", () => {
  it("counts a repeat up on the existing Event with one PATCH instead of a new Event", async () => {
    await recorder.record(about, "StepStarted", "step 1: weight 10", false);
    time += 30_000;
    await recorder.record(about, "StepStarted", "step 1: weight 10", false);
    time += 30_000;
    await recorder.record(about, "StepStarted", "step 1: weight 10", false);
    // another type is another Event
    await recorder.record(about, "StepStarted", "step 1: weight 10", true);
    expect(await events()).toEqual([
      {
        reason: "StepStarted",
        message: "step 1: weight 10",
        type: "Normal",
        count: 3,
        firstTimestamp: "2026-01-01T12:00:00.000Z",
        lastTimestamp: "2026-01-01T12:01:00.000Z",
      },
      {
        reason: "StepStarted",
        message: "step 1: weight 10",
        type: "Warning",
        count: 1,
        firstTimestamp: "2026-01-01T12:01:00.000Z",
        lastTimestamp: "2026-01-01T12:01:00.000Z",
      },
    ]);
    expect(writes()).toEqual(["POST", "PATCH", "PATCH", "POST"]);
  });

  it("combines the 10th different message of one reason, and counts the combined Event up after it", async () => {
    for (let i = 1; i <= 12; i++) {
      await recorder.record(about, "AnalysisHeld", `look ${String(i).padStart(2, "0")}: no data`, true);
      time += 1_000;
    }
    const recorded = await events();
    // nine Events of their own, then one combined Event carrying the latest message, counted three times
    expect(
      recorded.filter((event) => !event.message.startsWith(COMBINED_PREFIX)).map((e) => e.message),
    ).toEqual(Array.from({ length: 9 }, (_, i) => `look 0${i + 1}: no data`));
    expect(recorded.filter((event) => event.message.startsWith(COMBINED_PREFIX))).toEqual([
      expect.objectContaining({ message: `${COMBINED_PREFIX}look 12: no data`, count: 3 }),
    ]);
    expect(writes()).toEqual([...Array(10).fill("POST"), "PATCH", "PATCH"]);
  });

  it("starts a new set of similar messages after 10 minutes without one", async () => {
    for (let i = 1; i <= 9; i++) await recorder.record(about, "AnalysisHeld", `look ${i}`, true);
    time += 600_001;
    await recorder.record(about, "AnalysisHeld", "look 10", true);
    expect((await events()).some((event) => event.message.startsWith(COMBINED_PREFIX))).toBe(false);
  });

  it("lets 25 Events about an object through, then one more every 5 minutes; other objects are not held", async () => {
    for (let i = 0; i < 30; i++) await recorder.record(about, `Reason${i}`, "a message", false);
    expect(await events()).toHaveLength(25);
    expect(writes()).toHaveLength(25);
    time += 299_000;
    await recorder.record(about, "Late", "a message", false);
    expect(writes()).toHaveLength(25);
    time += 301_000; // 10 minutes after the burst: two tokens (the dropped Event took none)
    await recorder.record(about, "Later", "a message", false);
    await recorder.record(about, "Latest", "a message", false);
    await recorder.record(about, "Dropped", "a message", false);
    expect(
      (await events())
        .map((event) => event.reason)
        .filter((reason) => !reason.startsWith("Reason"))
        .sort(),
    ).toEqual(["Later", "Latest"]);
    const other = {
      ...about,
      metadata: { ...about.metadata, name: `${about.metadata.name}-other`, uid: "other" },
    };
    await recorder.record(other, "Fine", "a message", false);
    expect(writes()).toHaveLength(28);
  });

  it("creates the Event again when the one it would count up is gone", async () => {
    await recorder.record(about, "Paused", "waiting for a person", false);
    const [created] = (await cluster.client.list("v1", "Event", NS)).filter(
      (event) => (event as EventObject).involvedObject.name === about.metadata.name,
    );
    await cluster.client.delete({
      apiVersion: "v1",
      kind: "Event",
      namespace: NS,
      name: created!.metadata.name,
    });
    time += 1_000;
    await recorder.record(about, "Paused", "waiting for a person", false);
    expect(await events()).toEqual([expect.objectContaining({ reason: "Paused", count: 2 })]);
    expect(writes()).toEqual(["POST", "DELETE", "PATCH", "POST"]);
  });
});
