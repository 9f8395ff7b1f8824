/** Exit codes shared by every command; the README documents them. */
export const EXIT = {
  ok: 0,
  failed: 1,
  invalidInput: 2,
  timedOut: 3,
  paused: 4,
  unreachable: 5,
} as const;
