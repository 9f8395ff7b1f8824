import { Text } from "ink";
import { formatRefusal, type Refusal } from "../../src/client/refusals.ts";
import { wrapText } from "./model.ts";

/** At most this many lines for all refusals together: the rest of the screen keeps its room. */
export const MAX_REFUSAL_LINES = 4;

/** The lines the refusals take at `width` columns ("! " and the wrapped text), at most MAX_REFUSAL_LINES. */
export function refusalLines(refusals: readonly Refusal[], width: number): string[] {
  const text = refusals.map((refusal) => `refused: ${formatRefusal(refusal)}`).join(" · ");
  return text ? wrapText(text, width - 2, MAX_REFUSAL_LINES) : [];
}

/** What the controller refuses to do until someone edits something, under the header in the warning colour. */
export function RefusalBanner({ lines }: { lines: readonly string[] }) {
  return lines.map((line, index) => (
    // biome-ignore lint/suspicious/noArrayIndexKey: the wrapped lines of one text have no other identity
    <Text key={index} color="yellow" wrap="truncate-end">{`${index === 0 ? "!" : " "} ${line}`}</Text>
  ));
}
