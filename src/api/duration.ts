import { z } from "zod";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

// <integer><unit> parts, largest unit first, as kubectl prints them. No look-arounds: the same pattern
// goes into the CRD, whose validator (RE2) has none.
const DURATION_PATTERN = "^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$";
const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = /(\d+)(ms|h|m|s)/g;

/** Parses `15s`, `5m`, `1h30m`, `500ms` into milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (text === "" || !DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART_RE)) total += Number(amount) * UNIT_MS[unit as Unit];
  return total;
}

/** Formats milliseconds as the shortest duration text that parses back to the same value. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let text = "";
  for (const unit of ["h", "m", "s", "ms"] as const) {
    const amount = Math.floor(rest / UNIT_MS[unit]);
    if (amount > 0) text += `${amount}${unit}`;
    rest -= amount * UNIT_MS[unit];
  }
  return text;
}

const DURATION_HINT = "must be a duration such as 30s, 5m or 1h30m";

/** A duration written as text in a manifest and held as milliseconds in memory. */
export const Duration = z.codec(
  z.string().min(1, { error: DURATION_HINT }).regex(DURATION_RE, { error: DURATION_HINT }),
  z.number().int().nonnegative(),
  { decode: (text) => parseDuration(text) ?? 0, encode: formatDuration },
);
