import { describe, expect, it } from "vitest";
import { COMMAND_ANNOTATION, readCommand } from "../../../src/api/commands.ts";
import { scheduleOpen } from "../../../src/engine/schedule.ts";

describe("scheduleOpen", () => {
  const office = { window: "* 9-17 * * 1-5", timeZone: "Europe/Berlin" };

  it.each([
    ["2026-11-23T08:30:00Z", true], // Monday 09:30 in Berlin (UTC+1)
    ["2026-11-23T07:59:00Z", false], // Monday 08:59 in Berlin
    ["2026-11-23T16:59:00Z", true], // Monday 17:59 in Berlin: hour 17 is inside 9-17
    ["2026-11-23T17:00:00Z", false], // Monday 18:00 in Berlin
    ["2026-11-22T10:00:00Z", false], // Sunday
    ["2026-07-06T07:30:00Z", true], // Monday 09:30 in Berlin summer time (UTC+2)
  ])("office hours in Berlin at %s: %s", (at, open) => {
    expect(scheduleOpen(office, new Date(at))).toBe(open);
  });

  it("reads day-of-month and day-of-week as cron does: either, when both are restricted", () => {
    const window = { window: "* * 1 * 1", timeZone: "UTC" };
    expect(scheduleOpen(window, new Date("2026-12-01T12:00:00Z"))).toBe(true); // the 1st, a Tuesday
    expect(scheduleOpen(window, new Date("2026-11-23T12:00:00Z"))).toBe(true); // a Monday, the 23rd
    expect(scheduleOpen(window, new Date("2026-11-24T12:00:00Z"))).toBe(false);
  });
});

describe("readCommand", () => {
  const at = (value: string) => ({ [COMMAND_ANNOTATION]: value });

  it("reads each command kind", () => {
    expect(readCommand(at('{"id":"1","type":"promote","full":true}'))).toEqual({
      id: "1",
      type: "promote",
      full: true,
    });
    expect(readCommand(at('{"id":"2","type":"set-weight","weight":30}'))).toEqual({
      id: "2",
      type: "set-weight",
      weight: 30,
    });
    expect(readCommand(at('{"id":"3","type":"abort"}'))).toEqual({ id: "3", type: "abort" });
  });

  it("ignores missing, malformed and unknown commands", () => {
    expect(readCommand(undefined)).toBeUndefined();
    expect(readCommand({})).toBeUndefined();
    expect(readCommand(at("promote"))).toBeUndefined();
    expect(readCommand(at('{"id":"4","type":"launch"}'))).toBeUndefined();
    expect(readCommand(at('{"id":"5","type":"set-weight","weight":300}'))).toBeUndefined();
  });
});
