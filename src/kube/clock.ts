/**
 * The two clocks the leader election reads. Lease expiry is judged only on the monotonic clock (it
 * cannot jump and runs at the same rate in every process on a machine); the wall clock only fills the
 * Lease's informative `renewTime`/`acquireTime`.
 */
export interface Clock {
  /** Wall-clock time, ms since the epoch. */
  wallMs(): number;
  /** A monotonic time in ms: only differences mean something. */
  monotonicMs(): number;
}

/**
 * Test-only: shifts this process's wall clock by this many ms, so an end-to-end test can run a replica
 * whose clock is wrong (as a node with a broken NTP is). Read here and nowhere else.
 */
const WALL_OFFSET_MS = Number(process.env.STEPWISE_TEST_WALL_CLOCK_OFFSET_MS ?? 0) || 0;

export const systemClock: Clock = {
  wallMs: () => Date.now() + WALL_OFFSET_MS,
  monotonicMs: () => performance.now(),
};
