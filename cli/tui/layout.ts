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

/** Header (3) + weight bar (1) + events title (1) + status line (1) + key hints (1). */
const FIXED_LINES = 7;
const MIN_EVENT_LINES = 3;
const GAP = 2;

export function layoutFor({ size, banner, fault, bodyWanted }: LayoutInput): Layout {
  const columns = Math.max(20, size.columns);
  const height = Math.max(1, size.rows - 1);
  const free = Math.max(0, height - FIXED_LINES - (banner ? 1 : 0) - (fault ? 1 : 0));
  const bodyHeight = Math.max(0, Math.min(bodyWanted, free - MIN_EVENT_LINES));
  const eventLines = Math.max(0, free - bodyHeight);
  const ladderWidth = Math.min(40, Math.floor(columns * 0.42));
  return { columns, height, bodyHeight, eventLines, ladderWidth, profilesWidth: columns - ladderWidth - GAP };
}

export { GAP as COLUMN_GAP };
