/**
 * The library entry of the package (`import { RolloutClient } from "@stepwise-dev/rollout"`): the Rollout
 * and SLOProfile schemas (zod) and their types, the parsers `rollout lint` and the controller use, and the
 * client the `rollout` CLI is built on.
 */
export type { Command as ControllerCommand } from "./api/commands.ts";
export type { ApiObject, DocumentError, DocumentResult } from "./api/documents.ts";
export { parseDocuments } from "./api/documents.ts";
export type { FieldError, ParseResult } from "./api/errors.ts";
export type { Phase, Step } from "./api/rollout.ts";
export { encodeRollout, PHASES, parseRollout, Rollout, RolloutSpec, RolloutStatus } from "./api/rollout.ts";
export type { Gate } from "./api/slo-profile.ts";
export { parseSLOProfile, SLOProfile } from "./api/slo-profile.ts";
export { type CommandBody, InvalidRequestError, type RolloutRef } from "./client/actions.ts";
export type { Connection } from "./client/follow.ts";
export {
  RolloutClient,
  type RolloutSnapshot,
  type Started,
  type StartOptions,
} from "./client/rollout-client.ts";
export {
  KubeApiError,
  KubeClient,
  KubeConflictError,
  KubeNotFoundError,
  KubeUnreachableError,
} from "./kube/client.ts";
