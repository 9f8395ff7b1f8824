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
    detail: string,
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
