/** Typed failures of traffic routers. Each message says what happened and what to do instead. */

export class RouterError extends Error {
  override name = "RouterError";
}

/** The traffic API cannot do what was asked; the message names what can. */
export class UnsupportedOperationError extends RouterError {
  override name = "UnsupportedOperationError";
  constructor(
    readonly api: string,
    readonly operation: string,
    /** What to use instead, as a sentence fragment ("use provider gateway (HTTPRoute) or istio"). */
    readonly instead: string,
  ) {
    super(`${api} cannot ${operation}; ${instead}`);
  }
}

/** The object kept changing between read and write; the operation gave up after re-reading each time. */
export class ConflictError extends RouterError {
  override name = "ConflictError";
  constructor(
    readonly object: string,
    readonly attempts: number,
  ) {
    super(
      `${object} changed ${attempts} times while Stepwise was updating it (each time it re-read the object and decided again); another writer is editing it continuously`,
    );
  }
}

/** The route object, or the route in it that the controller manages, does not exist. */
export class RouteNotFoundError extends RouterError {
  override name = "RouteNotFoundError";
  constructor(
    readonly object: string,
    /** What is missing in it and what to add (the message without the object). */
    readonly detail: string,
  ) {
    super(`${object}: ${detail}`);
  }
}

/**
 * The part the controller would write is already set by someone else (a user's fault or mirror on the
 * managed route); the controller does not overwrite it.
 */
export class ForeignConfigError extends RouterError {
  override name = "ForeignConfigError";
  constructor(
    readonly object: string,
    detail: string,
  ) {
    super(`${object}: ${detail}`);
  }
}

/** The traffic API group or version is not served by the cluster. */
export class ApiNotServedError extends RouterError {
  override name = "ApiNotServedError";
}

/**
 * The canary share a step asks for cannot be written into the managed rule: the user's other
 * destinations there leave the canary less than that, or the share rounds to no weight at all. Nothing
 * was written. The message says why and what to change; it is meant for a Rollout condition and the CLI.
 */
export class WeightNotExpressibleError extends RouterError {
  override name = "WeightNotExpressibleError";
  constructor(
    readonly object: string,
    /** The canary share asked for, in percent of the rule's traffic. */
    readonly desired: number,
    /** The most the canary can get there, in percent of the rule's traffic. */
    readonly maximum: number,
    /** What one unit of the canary's weight is worth there, in percent of the rule's traffic. */
    readonly unit: number,
    detail: string,
  ) {
    super(`${object}: the canary cannot get ${desired}% of the managed route's traffic: ${detail}`);
  }
}
