/**
 * The client a TypeScript pipeline (and the `rollout` CLI) drives Stepwise with: start a release, read a
 * rollout, watch it as an async iterator of snapshots, promote or abort it. It talks to the Kubernetes API
 * only; the controller does the rest.
 */
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { parseRollout, type Rollout } from "../api/rollout.ts";
import { KubeClient } from "../kube/client.ts";
import { type CommandBody, InvalidRequestError, ROLLOUT, sendCommand, setImages } from "./actions.ts";
import { type Connection, DELETED, followRollout } from "./follow.ts";

/** One view of a watched rollout: the newest object (parsed) and the state of the watch. */
export interface RolloutSnapshot {
  /** Undefined before the first answer, once deleted, or when the newest version does not parse. */
  rollout: Rollout | undefined;
  connection: Connection;
  /** Why `rollout` is undefined, when the object does not parse or was deleted. */
  problem?: string;
}

export interface StartOptions {
  /** New images for the target Deployment's containers; none asks the controller to retry the current revision. */
  images?: { container?: string; image: string }[];
}

/** What `start` did: the revision that will roll out, or the id of the retry command. */
export type Started = { revision: string } | { commandId: string };

export class RolloutClient {
  constructor(
    /** The Kubernetes client every request goes through. */
    readonly kube: KubeClient,
    /** The namespace rollouts are looked up in. */
    readonly namespace: string,
  ) {}

  /** A client from a kubeconfig file (default: $KUBECONFIG or ~/.kube/config) and the context's namespace. */
  static fromKubeconfig(options: { kubeconfig?: string; context?: string; namespace?: string } = {}) {
    const kc = new KubeConfig();
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
    if (options.context) kc.setCurrentContext(options.context);
    const kube = new KubeClient(kc, { fieldManager: "stepwise-client", userAgent: "stepwise-client" });
    return new RolloutClient(kube, options.namespace ?? kube.defaultNamespace);
  }

  private ref(name: string) {
    return { namespace: this.namespace, name };
  }

  /** Starts a release: new images on the target (the revision is returned), or a retry of the current one. */
  async start(name: string, options: StartOptions = {}): Promise<Started> {
    if (options.images?.length)
      return { revision: await setImages(this.kube, this.ref(name), options.images) };
    return { commandId: await sendCommand(this.kube, this.ref(name), { type: "retry" }) };
  }

  /** The rollout as stored now; an InvalidRequestError when it does not parse. */
  async status(name: string): Promise<Rollout> {
    const raw = await this.kube.get({ ...ROLLOUT, ...this.ref(name) });
    const parsed = parseRollout(raw);
    if (!parsed.ok) {
      const first = parsed.errors[0];
      throw new InvalidRequestError(
        `rollout ${this.namespace}/${name} is invalid: ${first?.path}: ${first?.message}`,
      );
    }
    return parsed.value;
  }

  /**
   * Every change of the rollout, and of the watch's state, as snapshots, from the current one on. The
   * watch survives API restarts; the iteration ends when the rollout is deleted, when `signal` aborts, or
   * when the loop that reads it stops (break, return, throw).
   */
  async *watch(name: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<RolloutSnapshot> {
    const pending: RolloutSnapshot[] = [];
    let current: RolloutSnapshot = { rollout: undefined, connection: "connecting" };
    let wake: (() => void) | undefined;
    const push = (next: RolloutSnapshot) => {
      current = next;
      pending.push(next);
      wake?.();
    };
    const stop = await followRollout(
      this.kube,
      this.ref(name),
      (rollout, problem) =>
        push({
          rollout,
          connection: problem === DELETED ? "gone" : current.connection,
          ...(problem ? { problem } : {}),
        }),
      (connection) => push({ rollout: current.rollout, connection }),
    );
    const abort = () => wake?.();
    options.signal?.addEventListener("abort", abort);
    try {
      while (!options.signal?.aborted) {
        const next = pending.shift();
        if (next === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        yield next;
        if (next.connection === "gone") return;
      }
    } finally {
      options.signal?.removeEventListener("abort", abort);
      stop();
    }
  }

  /** Sends a command to the controller (it applies it on its next tick); returns the command's id. */
  send(name: string, command: CommandBody): Promise<string> {
    return sendCommand(this.kube, this.ref(name), command);
  }

  /** Advances to the next step, or with `full` promotes now. */
  promote(name: string, options: { full?: boolean } = {}): Promise<string> {
    return this.send(name, { type: "promote", ...(options.full ? { full: true } : {}) });
  }

  /** Rolls back to the stable version now. */
  abort(name: string): Promise<string> {
    return this.send(name, { type: "abort" });
  }
}
