/** How the live area is cut up for a terminal size: every region has a fixed height, so it never grows. */

export interface TerminalSize {
  columns: number;
  rows: number;
}

export const DEFAULT_SIZE: TerminalSize = { columns: 80, rows: 24 };

export interface LayoutInput {
  size: TerminalSize;
  /** A connection banner (connecting, reconnecting, gone) takes a line. */
  banner: boolean;
  /** The fault banner takes a line while a fault is active. */
  fault: boolean;
  /** Lines the step ladder and profile panels would like, titles included. */
  bodyWanted: number;
  /** Lines of the controller's message in the header (a failure reason wraps); 1 by default. */
  messageLines?: number;
  /** Lines of the refusals under the header (none by default). */
  refusalLines?: number;
}

export interface Layout {
  columns: number;
  /** Lines of the whole live area: always below the terminal's height, so Ink never clears the screen. */
  height: number;
  bodyHeight: number;
  /** Lines of the event log below its title. */
  eventLines: number;
  ladderWidth: number;
  profilesWidth: number;
}

/** Header (2 + the message's lines) + weight bar (1) + events title (1) + status line (1) + key hints (1). */
const FIXED_LINES = 6;
const MIN_EVENT_LINES = 3;
/** A blank column between the step ladder and the analysis panel. */
const GAP = 1;
/** The analysis panel's rule on its left and the blank after it: the panels never share a row's text. */
export const PANEL_RULE = 2;

export function layoutFor({
  size,
  banner,
  fault,
  bodyWanted,
  messageLines = 1,
  refusalLines = 0,
}: LayoutInput): Layout {
  const columns = Math.max(20, size.columns);
  const height = Math.max(1, size.rows - 1);
  const fixed = FIXED_LINES + Math.max(1, messageLines) + refusalLines;
  const free = Math.max(0, height - fixed - (banner ? 1 : 0) - (fault ? 1 : 0));
  const bodyHeight = Math.max(0, Math.min(bodyWanted, free - MIN_EVENT_LINES));
  const eventLines = Math.max(0, free - bodyHeight);
  const ladderWidth = Math.min(40, Math.floor(columns * 0.42));
  const profilesWidth = columns - ladderWidth - GAP - PANEL_RULE;
  return { columns, height, bodyHeight, eventLines, ladderWidth, profilesWidth };
}

export { GAP as COLUMN_GAP };
