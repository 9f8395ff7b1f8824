import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { Rollout } from "../api/rollout.ts";
import type { KubeClient, KubeObject } from "../kube/client.ts";
import { EventRecorder } from "../kube/events.ts";
import { Informer } from "../kube/informer.ts";
import { labelMatcher } from "../kube/label-selector.ts";
import { type LeaderElectionTiming, LeaderElector, NotLeaderError } from "../kube/leader-election.ts";
import { InformerCache, type ObjectReader } from "../kube/object-cache.ts";
import { PRIORITY, WorkQueue } from "../kube/queue.ts";
import { apiSource } from "../kube/watch-source.ts";
import type { TrafficRouter } from "../routers/index.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { ControllerMetrics } from "../telemetry/metrics.ts";
import { AUTOSCALER, type HorizontalPodAutoscaler } from "../workloads/autoscaler.ts";
import { type Deployment, PRIMARY_SUFFIX } from "../workloads/deployments.ts";
import { type AnalysisSource, Reconciler } from "./reconciler.ts";

export interface ControllerOptions {
  client: KubeClient;
  /** Watch one namespace; all namespaces when undefined. */
  namespace?: string;
  /**
   * A label selector on Rollouts: this controller (a shard) acts only on the Rollouts it matches. The
   * watch asks the API server for them, and every reconcile checks the Rollout it decides from again.
   */
  shardSelector?: string;
  analysis: AnalysisSource;
  /** The rollout's router, reading route objects through `reads` (informers of the kinds it manages). */
  routerFor(rollout: Rollout, reads: ObjectReader): TrafficRouter;
  logger: Logger;
  metrics: ControllerMetrics;
  /**
   * Lease-based leader election; without it this replica acts at once. With it, every write the
   * controller's client makes (except the Lease's own) is fenced: refused once this replica's lease may
   * have passed to another.
   */
  leaderElection?: { namespace: string; name?: string; identity?: string } & Partial<LeaderElectionTiming>;
  workers?: number;
  /** How often every rollout is reconciled even without events. */
  resyncMs?: number;
}

export interface RunningController {
  /** Caches synced (a standby replica is ready too, so it can take over). */
  ready(): boolean;
  isLeader(): boolean;
  stop(): Promise<void>;
}

const key = (object: KubeObject) => `${object.metadata.namespace}/${object.metadata.name}`;

/**
 * The Lease a controller's replicas share: one per shard selector, so that each shard elects its own
 * leader and shards never wait for each other. A readable part of the selector, and a hash of all of it.
 */
export function leaseName(shardSelector?: string): string {
  if (!shardSelector) return "stepwise-controller";
  const readable = shardSelector
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 30)
    .replace(/-+$/, "");
  const hash = createHash("sha256").update(shardSelector).digest("hex").slice(0, 8);
  return `stepwise-controller-${readable}-${hash}`;
}

/**
 * The long-running controller: informers on Rollouts, Deployments and HorizontalPodAutoscalers feed a
 * work queue; workers reconcile one rollout at a time each (never the same one twice at once) while this
 * replica leads.
 */
export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { client, logger } = options;
  const onWatchError = (what: string) => (error: unknown) =>
    logger.warn({ err: error }, `${what} watch failed; retrying`);
  const rollouts = new Informer<KubeObject>(
    apiSource(
      client,
      "stepwise.dev/v1alpha1",
      "Rollout",
      options.namespace,
      options.shardSelector ? { labelSelector: options.shardSelector } : {},
    ),
    onWatchError("Rollout"),
  );
  const inShard = labelMatcher(options.shardSelector);
  const deployments = new Informer<Deployment>(
    apiSource(client, "apps/v1", "Deployment", options.namespace),
    onWatchError("Deployment"),
  );
  const autoscalers = new Informer<HorizontalPodAutoscaler>(
    apiSource(client, AUTOSCALER.apiVersion, AUTOSCALER.kind, options.namespace),
    onWatchError("HorizontalPodAutoscaler"),
  );
  const routes = new InformerCache(client, options.namespace, (kind, error) => onWatchError(kind)(error));
  const reconciler = new Reconciler({
    client,
    rollouts,
    deployments,
    autoscalers,
    analysis: options.analysis,
    events: new EventRecorder(client),
    metrics: options.metrics,
    logger,
    routerFor: (rollout) => options.routerFor(rollout, routes),
    inShard: (rollout) => inShard(rollout.metadata.labels),
  });

  let queue = new WorkQueue();
  let running: Promise<void> | undefined;
  const targets = new Map<string, string[]>(); // namespace/deployment -> rollout keys
  // A change a release under way may be waiting on (its canary ready, a command) goes ahead of looks and
  // of releases yet to begin: what has begun finishes first.
  const enqueue = (rolloutKey: string) =>
    queue.add(rolloutKey, reconciler.releaseUnderWay(rolloutKey) ? PRIORITY.progress : PRIORITY.due);
  rollouts.on((type, rollout) => {
    // A Rollout gone (or re-created under its name, which the informer reports as a delete then an add)
    // takes what this process kept for it along: status writes, webhook answers, analysis, metrics.
    if (type === "deleted") reconciler.forget(key(rollout));
    const target = (rollout as unknown as Rollout).spec?.targetRef?.name;
    if (target) {
      const deploymentKey = `${rollout.metadata.namespace}/${target}`;
      const others = (targets.get(deploymentKey) ?? []).filter((k) => k !== key(rollout));
      targets.set(deploymentKey, type === "deleted" ? others : [...others, key(rollout)]);
    }
    if (type === "updated" && reconciler.isOwnWrite(key(rollout), rollout)) return;
    enqueue(key(rollout));
  });
  // A Deployment, or an autoscaler of one (the user's scales the target, the primary's the primary),
  // concerns the rollouts of the target.
  const enqueueFor = (namespace: string | undefined, deployment: string) => {
    const name = deployment.endsWith(PRIMARY_SUFFIX)
      ? deployment.slice(0, -PRIMARY_SUFFIX.length)
      : deployment;
    for (const rolloutKey of targets.get(`${namespace}/${name}`) ?? []) enqueue(rolloutKey);
  };
  deployments.on((_type, deployment) => enqueueFor(deployment.metadata.namespace, deployment.metadata.name));
  autoscalers.on((_type, hpa) => {
    const ref = hpa.spec?.scaleTargetRef;
    if (ref?.kind === "Deployment") enqueueFor(hpa.metadata.namespace, ref.name);
  });

  // Rollouts whose next tick first removes expired faults: every rollout at start and on each resync.
  const sweepDue = new Set<string>();
  const resyncAll = () => {
    for (const rollout of rollouts.list()) {
      sweepDue.add(key(rollout));
      queue.add(key(rollout), PRIORITY.resync);
    }
  };

  const startWorkers = () => {
    queue = new WorkQueue();
    resyncAll();
    const previous = running; // workers of an earlier term may still finish a reconcile: never overlap
    const current = queue;
    running = (previous ?? Promise.resolve()).then(() =>
      current.run(options.workers ?? 4, async (rolloutKey) => {
        const started = process.hrtime.bigint();
        let result = "ok";
        try {
          const again = await reconciler.reconcile(rolloutKey, { sweepFaults: sweepDue.delete(rolloutKey) });
          if (again !== undefined) current.addAfter(rolloutKey, again);
        } catch (error) {
          result = "error";
          // the fence refused a write: the elector has already stopped the workers
          if (error instanceof NotLeaderError)
            logger.warn(
              { rollout: rolloutKey },
              "the lease may have passed to another replica; write not sent",
            );
          else {
            logger.warn({ err: error, rollout: rolloutKey }, "reconcile failed; retrying");
            current.addAfter(rolloutKey, 2_000);
          }
        } finally {
          options.metrics.reconcileDuration.observe(
            { result },
            Number(process.hrtime.bigint() - started) / 1e9,
          );
        }
      }),
    );
  };
  const stopWorkers = async () => {
    queue.shutDown();
    await running;
  };

  await Promise.all([deployments.start(), autoscalers.start(), rollouts.start()]);
  const resync = setInterval(resyncAll, options.resyncMs ?? 60_000);
  resync.unref();

  let elector: LeaderElector | undefined;
  if (options.leaderElection) {
    const { namespace, name, identity: given, ...timing } = options.leaderElection;
    const identity = given ?? `${hostname()}-${process.pid}`;
    // the Lease's own writes go around the fence: they are how the lease is kept
    const lease = name ?? leaseName(options.shardSelector);
    const leader = new LeaderElector(client.withoutFence(), {
      ...timing,
      namespace,
      name: lease,
      identity,
      onStartedLeading: () => {
        logger.info({ identity, lease }, "became the leader");
        startWorkers();
      },
      onStoppedLeading: () => {
        logger.warn({ identity }, "lost the leadership; stopping work");
        void stopWorkers().then(() => options.metrics.forgetAllRollouts());
      },
    });
    client.setWriteFence(() => leader.assertLeading());
    elector = leader;
    elector.start();
  } else startWorkers();

  return {
    ready: () => rollouts.synced && deployments.synced && autoscalers.synced,
    isLeader: () => elector?.isLeader ?? true,
    async stop() {
      clearInterval(resync);
      rollouts.stop();
      deployments.stop();
      autoscalers.stop();
      await stopWorkers();
      routes.stop();
      await elector?.stop(); // after the last write: hands the lease over at once
    },
  };
}
