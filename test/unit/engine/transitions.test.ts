import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PHASES } from "../../../src/api/rollout.ts";
import { COMMAND_PHASES, nextPhase, TRANSITIONS } from "../../../src/engine/transitions.ts";

const architecture = readFileSync(new URL("../../../docs/architecture.md", import.meta.url), "utf8");

/** The rows of the markdown table whose header row starts with `| first |`, as cells. */
function table(first: string): string[][] {
  const lines = architecture.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`| ${first} |`));
  expect(start, `a table headed "${first}" in docs/architecture.md`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split("|")
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

describe("the state machine's tables", () => {
  it("docs/architecture.md shows the command table as the engine has it", () => {
    const header = architecture
      .split("\n")
      .find((line) => line.startsWith("| command |"))!
      .slice(1, -1)
      .split("|")
      .map((cell) => cell.trim())
      .slice(1);
    expect(header).toEqual([...PHASES]);
    const documented = Object.fromEntries(
      table("command").map(([command, ...cells]) => [
        command!.replaceAll("`", ""),
        PHASES.filter((_, i) => cells[i] === "yes"),
      ]),
    );
    expect(documented).toEqual(COMMAND_PHASES);
  });

  it("docs/architecture.md shows every transition as the engine has it", () => {
    const documented = Object.fromEntries(
      table("event").map(([event, from, to]) => [event, { from: from!.split(", "), to }]),
    );
    const inCode = Object.fromEntries(
      Object.entries(TRANSITIONS).map(([event, t]) => [
        event,
        { from: t.from.length === PHASES.length + 1 ? ["any"] : [...t.from], to: t.to },
      ]),
    );
    expect(documented).toEqual(inCode);
  });

  it("refuses a transition the table does not list", () => {
    expect(nextPhase("Progressing", "AnalysisFailed")).toBe("RollingBack");
    expect(nextPhase(undefined, "Bootstrap")).toBe("Initializing");
    expect(() => nextPhase("Succeeded", "AnalysisFailed")).toThrow(
      /no transition Succeeded --AnalysisFailed-->/,
    );
  });
});
