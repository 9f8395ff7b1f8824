import { EventEmitter } from "node:events";
import { render } from "ink";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderRolloutView } from "../../../cli/tui/index.tsx";
import { RolloutView } from "../../../cli/tui/rollout-view.tsx";
import { FIXTURES, rolledBack, succeeded } from "../../fixtures/tui/rollouts.ts";
import { cells, nextTick, screenLines, storeFor } from "./helpers.ts";

/** A terminal of a given size that records what is written to it. */
class FakeTerminal extends EventEmitter {
  isTTY = true;
  output: string[] = [];
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (text: string) => {
    this.output.push(text);
    return true;
  };
  resize(columns: number, rows: number) {
    this.columns = columns;
    this.rows = rows;
    this.emit("resize");
  }
}

/** A keyboard: what ink-testing-library's stdin does, enough for Ink's input handling. */
class FakeKeyboard extends EventEmitter {
  isTTY: boolean | undefined = true;
  private data: string | null = null;
  type(text: string) {
    this.data = text;
    this.emit("readable");
    this.emit("data", text);
  }
  read = () => {
    const { data } = this;
    this.data = null;
    return data;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

const streams = (terminal: FakeTerminal, keyboard: FakeKeyboard) => ({
  stdout: terminal as unknown as NodeJS.WriteStream,
  stderr: new FakeTerminal(80, 24) as unknown as NodeJS.WriteStream,
  stdin: keyboard as unknown as NodeJS.ReadStream,
});

const actions = () => ({ promote: vi.fn(), abort: vi.fn(), pause: vi.fn(), resume: vi.fn() });

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe("renderRolloutView", () => {
  it("resolves when the rollout reaches a terminal phase, with that phase", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const terminal = new FakeTerminal(80, 24);
    const done = renderRolloutView(store, actions(), {
      ...streams(terminal, new FakeKeyboard()),
      patchConsole: false,
    });
    await nextTick();
    store.update(rolledBack);
    await expect(done).resolves.toEqual({ reason: "finished", phase: "RolledBack" });
    expect(terminal.output.join("")).toContain("RolledBack");
  });

  it("resolves when the user quits, without sending anything", async () => {
    const { store } = storeFor(FIXTURES["paused manual gate"]!);
    const keyboard = new FakeKeyboard();
    const keys = actions();
    const done = renderRolloutView(store, keys, {
      ...streams(new FakeTerminal(80, 24), keyboard),
      patchConsole: false,
    });
    await nextTick();
    keyboard.type("q");
    await expect(done).resolves.toEqual({ reason: "quit", phase: "Paused" });
    for (const action of Object.values(keys)) expect(action).not.toHaveBeenCalled();
  });

  it("calls the actions from the keys", async () => {
    const { store } = storeFor(FIXTURES["paused manual gate"]!);
    const keyboard = new FakeKeyboard();
    const keys = actions();
    const done = renderRolloutView(store, keys, {
      ...streams(new FakeTerminal(80, 24), keyboard),
      patchConsole: false,
    });
    await nextTick();
    keyboard.type("p");
    await vi.waitFor(() => expect(keys.promote).toHaveBeenCalledTimes(1));
    keyboard.type("q");
    await done;
  });

  it("resolves when the rollout is deleted", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const done = renderRolloutView(store, actions(), {
      ...streams(new FakeTerminal(80, 24), new FakeKeyboard()),
      patchConsole: false,
    });
    store.connection("gone");
    await expect(done).resolves.toEqual({ reason: "gone", phase: "Progressing" });
  });

  it("resolves at once for a rollout that has already finished", async () => {
    const { store } = storeFor({ rollout: succeeded, connection: "live", now: Date.now() });
    const done = renderRolloutView(store, actions(), {
      ...streams(new FakeTerminal(80, 24), new FakeKeyboard()),
      patchConsole: false,
    });
    await expect(done).resolves.toEqual({ reason: "finished", phase: "Succeeded" });
  });

  it("resolves as interrupted on Ctrl+C", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const keyboard = new FakeKeyboard();
    const done = renderRolloutView(store, actions(), {
      ...streams(new FakeTerminal(80, 24), keyboard),
      patchConsole: false,
    });
    await nextTick();
    keyboard.type("\u0003");
    await expect(done).resolves.toEqual({ reason: "interrupted", phase: "Progressing" });
  });

  it("watches without keys when stdin is not a terminal", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const keyboard = new FakeKeyboard();
    keyboard.isTTY = undefined;
    const terminal = new FakeTerminal(80, 24);
    const done = renderRolloutView(store, actions(), { ...streams(terminal, keyboard), patchConsole: false });
    await nextTick();
    store.update(succeeded);
    await expect(done).resolves.toEqual({ reason: "finished", phase: "Succeeded" });
    expect(terminal.output.join("")).toContain("watch only: keys need a terminal on stdin");
  });

  it("keeps showing a finished rollout when asked to, until quit", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const keyboard = new FakeKeyboard();
    let settled = false;
    const done = renderRolloutView(store, actions(), {
      ...streams(new FakeTerminal(80, 24), keyboard),
      done: () => false,
      patchConsole: false,
    }).finally(() => {
      settled = true;
    });
    await nextTick();
    store.update(succeeded);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    keyboard.type("q");
    await expect(done).resolves.toEqual({ reason: "quit", phase: "Succeeded" });
  });
});

describe("RolloutView in a real Ink render", () => {
  it("sizes itself from stdout's rows and columns and follows a resize", async () => {
    const { store } = storeFor(FIXTURES["chaos with active fault"]!);
    const terminal = new FakeTerminal(60, 16);
    const instance = render(<RolloutView store={store} actions={actions()} onQuit={() => {}} />, {
      ...streams(terminal, new FakeKeyboard()),
      debug: true,
      exitOnCtrlC: false,
      patchConsole: false,
    });
    cleanups.push(() => instance.unmount());
    await nextTick();
    const last = () => screenLines(terminal.output.at(-1));
    expect(last()).toHaveLength(15);
    for (const line of last()) expect(cells(line)).toBeLessThanOrEqual(60);
    terminal.resize(100, 40);
    await vi.waitFor(() => expect(last()).toHaveLength(39));
    expect(Math.max(...last().map(cells))).toBeGreaterThan(60);
    for (const line of last()) expect(cells(line)).toBeLessThanOrEqual(100);
  });
});
