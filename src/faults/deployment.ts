/**
 * How the fault server is deployed (manifests/fault-server), as the Service `<rollout>-fault` the
 * controller creates addresses it.
 */

/** The label of the fault server's pods, which `<rollout>-fault` selects. */
export const FAULT_SERVER_LABELS: Readonly<Record<string, string>> = {
  "app.kubernetes.io/name": "stepwise-fault-server",
};

/** The port the fault server listens on in its pods (`rollout fault-server --port`'s default). */
export const FAULT_SERVER_PORT = 8080;
