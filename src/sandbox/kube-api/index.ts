export type { FaultMatch, Faults } from "./faults.ts";
export { kubeconfigYaml } from "./kubeconfig.ts";
export type { RequestLog, RequestLogEntry } from "./request-log.ts";
export { type KubeApi, type KubeApiOptions, startKubeApi } from "./server.ts";
export type { ControllerOptions } from "./simulated-controllers.ts";
