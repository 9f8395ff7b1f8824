import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../../src/api/duration.ts";

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["15s", 15_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["2m5s", 125_000],
    ["1m500ms", 60_500],
    ["0s", 0],
  ])("parses %s as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  it.each(["", "15", "5 m", "1.5s", "5m1h", "-5s", "1d"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it("formats with the largest units first", () => {
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(60_500)).toBe("1m500ms");
  });
});
