// The sandbox's traffic generator.
export {
  isTagged,
  startTraffic,
  type Traffic,
  type TrafficCounts,
  type TrafficOptions,
} from "./generator.ts";
