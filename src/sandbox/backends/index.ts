// Version backends of the sandbox: one HTTP server per version, answering as a scenario says.
export { type Behaviour, type Latency, type Plan, plan, sampleLatency } from "./behaviour.ts";
export {
  type Backend,
  type BackendOptions,
  DEGRADED_HEADER,
  type DependencyOptions,
  startBackend,
  VERSION_HEADER,
} from "./server.ts";
