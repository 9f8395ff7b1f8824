/**
 * The Prometheus text exposition format and instant-vector selectors (`name{label="v", l=~"re"}`), for
 * providers that read a /metrics endpoint themselves instead of asking a Prometheus server.
 */
import { matches, parseSelector as parseSelectorText } from "./selector.ts";
import type { CounterSample } from "./types.ts";

export interface Series extends CounterSample {
  name: string;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/;
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

function parseLabels(text: string): { name: string; value: string }[] {
  const labels: { name: string; value: string }[] = [];
  LABEL_RE.lastIndex = 0;
  while (LABEL_RE.lastIndex < text.length) {
    const start = LABEL_RE.lastIndex;
    const match = LABEL_RE.exec(text);
    if (!match) {
      if (text.slice(start).trim() === "") break;
      throw new SyntaxError(`cannot read labels at "${text.slice(start)}"`);
    }
    labels.push({ name: match[1]!, value: unescapeLabel(match[2]!) });
  }
  return labels;
}

/**
 * Every sample of a text exposition; comments and blank lines are skipped. A line that is not a sample is a
 * SyntaxError naming it: a garbage page must not read as a page without the series asked for.
 */
export function parseExposition(text: string): Series[] {
  const series: Series[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const match = SAMPLE_RE.exec(line.trim());
    if (!match) throw new SyntaxError(`line ${index + 1} is not a metric sample: ${line.slice(0, 80)}`);
    const labels = Object.fromEntries(parseLabels(match[3] ?? "").map((l) => [l.name, l.value]));
    series.push({ name: match[1]!, labels, value: Number(match[4]) });
  }
  return series;
}

export type Matcher = (series: Series) => boolean;

/**
 * A matcher for one selector, read and matched as the shared looks read theirs (selector.ts); anything
 * beyond a plain selector (functions, operators) is refused.
 */
export function parseSelector(query: string): Matcher {
  const selector = parseSelectorText(query);
  if (!selector)
    throw new SyntaxError(`only plain selectors such as name{label="value"} can be read here: ${query}`);
  return (series) =>
    series.name === selector.metric && selector.matchers.every((matcher) => matches(series.labels, matcher));
}
