import { afterEach, describe, expect, it, vi } from "vitest";
import { PRIORITY, WorkQueue } from "../../../src/kube/queue.ts";
import { TokenBucket } from "../../../src/kube/rate-limit.ts";

const tick = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe("WorkQueue", () => {
  it("never hands one key to two workers, and reruns a key added while it was worked on", async () => {
    const queue = new WorkQueue();
    const running = new Set<string>();
    const runs: string[] = [];
    let overlap = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done = queue.run(4, async (key) => {
      if (running.has(key)) overlap = true;
      running.add(key);
      runs.push(key);
      if (runs.length === 1) await gate;
      running.delete(key);
    });
    queue.add("shop/checkout");
    await tick();
    queue.add("shop/checkout"); // while the first run is blocked
    queue.add("shop/checkout"); // deduplicated with the one above
    queue.add("shop/cart");
    await tick();
    expect(runs).toEqual(["shop/checkout", "shop/cart"]);
    release();
    await tick();
    await tick();
    expect(runs).toEqual(["shop/checkout", "shop/cart", "shop/checkout"]);
    expect(overlap).toBe(false);
    queue.shutDown();
    await done;
  });

  it("hands out the best priority first, in order of arrival within one, and a re-add only raises a key", async () => {
    const queue = new WorkQueue();
    queue.add("shop/resynced", PRIORITY.resync);
    queue.add("shop/look-a"); // a timer's add: due
    queue.add("shop/look-b", PRIORITY.due);
    queue.add("shop/ready", PRIORITY.progress);
    queue.add("shop/look-b", PRIORITY.progress); // its canary became ready while it waited for a look
    queue.add("shop/ready", PRIORITY.resync); // a resync does not send a waiting key back
    expect(queue.length).toBe(4);
    const runs: string[] = [];
    const done = queue.run(1, async (key) => {
      runs.push(key);
    });
    await tick();
    expect(runs).toEqual(["shop/ready", "shop/look-b", "shop/look-a", "shop/resynced"]);
    expect(queue.length).toBe(0);
    queue.shutDown();
    await done;
  });

  it("reruns a key added while it was worked on at the first priority, whatever it was added with", async () => {
    const queue = new WorkQueue();
    const runs: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done = queue.run(1, async (key) => {
      runs.push(key);
      if (runs.length === 1) await gate;
    });
    queue.add("shop/checkout", PRIORITY.progress);
    await tick();
    queue.add("shop/cart", PRIORITY.due);
    queue.add("shop/checkout", PRIORITY.resync); // while worked on
    release();
    await tick();
    await tick();
    expect(runs).toEqual(["shop/checkout", "shop/checkout", "shop/cart"]);
    queue.shutDown();
    await done;
  });

  it("keeps the earliest due time of delayed adds", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    const runs: string[] = [];
    const done = queue.run(1, async (key) => {
      runs.push(key);
    });
    queue.addAfter("a", 10_000);
    queue.addAfter("a", 1_000);
    queue.addAfter("a", 5_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(runs).toEqual(["a"]);
    queue.shutDown();
    await done;
  });
});

describe("TokenBucket", () => {
  it("hands tokens to waiting background requests only when no other request waits", async () => {
    vi.useFakeTimers();
    const bucket = new TokenBucket(10, 1);
    const order: string[] = [];
    await bucket.take(); // the burst
    void bucket.take(true).then(() => order.push("event 1"));
    void bucket.take().then(() => order.push("route write"));
    void bucket.take(true).then(() => order.push("event 2"));
    void bucket.take().then(() => order.push("status write"));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(order).toEqual(["route write", "status write", "event 1", "event 2"]);
  });

  it("lets a burst through at once, then paces requests at the QPS", async () => {
    vi.useFakeTimers();
    const bucket = new TokenBucket(5, 3);
    let granted = 0;
    for (let i = 0; i < 8; i++) void bucket.take().then(() => granted++);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(3);
    await vi.advanceTimersByTimeAsync(500);
    expect(granted).toBe(5);
    await vi.advanceTimersByTimeAsync(500);
    expect(granted).toBe(8);
  });
});
