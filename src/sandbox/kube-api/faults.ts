import type { RequestInfo } from "./request-info.ts";
import { ApiError, conflict, STALE_OBJECT } from "./status-errors.ts";
import type { Verb } from "./types.ts";

/** Which requests a fault applies to; every given field must match. */
export interface FaultMatch {
  verb?: Verb | Verb[];
  /** Plural resource name, e.g. "rollouts". */
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

interface Armed<T> {
  remaining: number;
  match: FaultMatch;
  payload: T;
}

const WRITE_VERBS: Verb[] = ["create", "update", "patch", "delete", "deletecollection"];

function matches(match: FaultMatch, info: RequestInfo): boolean {
  if (!info.isResourceRequest) return false;
  if (match.verb !== undefined) {
    const verbs = Array.isArray(match.verb) ? match.verb : [match.verb];
    if (!verbs.includes(info.verb as Verb)) return false;
  }
  if (match.resource !== undefined && match.resource !== info.resource) return false;
  if (match.namespace !== undefined && match.namespace !== info.namespace) return false;
  if (match.name !== undefined && match.name !== info.name) return false;
  if (match.subresource !== undefined && match.subresource !== info.subresource) return false;
  return true;
}

/** Takes one charge from the first armed fault that matches the request. */
function take<T>(list: Armed<T>[], info: RequestInfo): T | undefined {
  const found = list.find((f) => f.remaining > 0 && matches(f.match, info));
  if (!found) return undefined;
  found.remaining -= 1;
  if (found.remaining === 0) list.splice(list.indexOf(found), 1);
  return found.payload;
}

const ERROR_TEXT: Record<number, { reason: string; message: string }> = {
  429: { reason: "TooManyRequests", message: "Too many requests, please try again later." },
  500: { reason: "InternalError", message: "Internal error occurred: injected fault" },
  503: { reason: "ServiceUnavailable", message: "the server is currently unable to handle the request" },
};

export interface WatchControl {
  /** Ends every open watch response normally, as a server-side timeout does. */
  closeAll(): void;
  /** Destroys every watch connection without a proper end, as a crashed server or proxy does. */
  dropAll(): void;
}

/** Test hooks that make the emulator misbehave in the ways a real control plane sometimes does. */
export class Faults {
  private readonly errors: Armed<{ code: number; retryAfterSeconds?: number }>[] = [];
  private readonly delays: Armed<number>[] = [];
  private readonly conflicts: Armed<true>[] = [];
  private readonly expiries: Armed<true>[] = [];

  constructor(private readonly watches: WatchControl) {}

  /** Answers the next `count` matching requests with 429, 500 or 503 (429/503 carry Retry-After). */
  failNext(
    count: number,
    code: 429 | 500 | 503,
    options: { match?: FaultMatch; retryAfterSeconds?: number } = {},
  ): void {
    const retryAfterSeconds = options.retryAfterSeconds ?? (code === 500 ? undefined : 1);
    this.errors.push({ remaining: count, match: options.match ?? {}, payload: { code, retryAfterSeconds } });
  }

  /** Holds matching responses back by `ms` (for `count` requests, or until cleared). */
  delay(ms: number, options: { match?: FaultMatch; count?: number } = {}): void {
    this.delays.push({
      remaining: options.count ?? Number.POSITIVE_INFINITY,
      match: options.match ?? {},
      payload: ms,
    });
  }

  /** Makes the next `count` matching update, patch or delete requests fail with 409 Conflict, as if another writer won. */
  conflictNextWrites(count: number, match: FaultMatch = {}): void {
    this.conflicts.push({
      remaining: count,
      match: { verb: ["update", "patch", "delete"], ...match },
      payload: true,
    });
  }

  /** Makes the next `count` matching watches start with a 410 Expired ERROR event, whatever resourceVersion they ask for. */
  expireNextWatch(count = 1, match: FaultMatch = {}): void {
    this.expiries.push({ remaining: count, match: { ...match, verb: "watch" }, payload: true });
  }

  dropWatches(): void {
    this.watches.dropAll();
  }

  closeWatches(): void {
    this.watches.closeAll();
  }

  clear(): void {
    for (const list of [this.errors, this.delays, this.conflicts, this.expiries]) list.length = 0;
  }

  errorFor(info: RequestInfo): ApiError | undefined {
    const fault = take(this.errors, info);
    if (!fault) return undefined;
    const text = ERROR_TEXT[fault.code]!;
    const headers: Record<string, string> =
      fault.retryAfterSeconds === undefined ? {} : { "Retry-After": String(fault.retryAfterSeconds) };
    const details =
      fault.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: fault.retryAfterSeconds };
    return new ApiError(fault.code, text.reason, text.message, details, headers);
  }

  delayFor(info: RequestInfo): number {
    return take(this.delays, info) ?? 0;
  }

  conflictFor(info: RequestInfo): ApiError | undefined {
    if (!WRITE_VERBS.includes(info.verb as Verb) || !take(this.conflicts, info)) return undefined;
    const group = info.group;
    return conflict({ group, resource: info.resource ?? "" }, info.name ?? "", STALE_OBJECT);
  }

  expireWatch(info: RequestInfo): boolean {
    return take(this.expiries, info) === true;
  }
}
