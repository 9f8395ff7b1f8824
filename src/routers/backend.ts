/**
 * The pure half shared by the APIs that have no fault filter (SMI TrafficSplit, Gateway API routes,
 * Consul ServiceSplitter): an abort fault is a weighted share of the rollout's traffic sent to the
 * error-returning backend `<svc>-fault`.
 */
import type { KubeObject } from "../kube/client.ts";
import { UnsupportedOperationError } from "./errors.ts";
import { faultPercent } from "./match.ts";
import { activeFault, type Change, drift, objectInfo, planAsFinalize, type RouteModel } from "./model.ts";
import { asArray, PatchBuilder } from "./patch.ts";
import { readRecord, type TrafficRecord, writeRecord } from "./record.ts";
import { planSplit, readSplit, type SplitSite, weightState } from "./split.ts";
import type {
  Fault,
  RequestMatch,
  RouterCapabilities,
  RouterContext,
  TrafficState,
} from "./traffic-router.ts";

export abstract class BackendFaultModel implements RouteModel {
  abstract readonly api: string;
  abstract readonly kind: string;
  abstract readonly apiVersion: string;
  abstract readonly capabilities: RouterCapabilities;

  constructor(readonly ctx: RouterContext) {}

  /** The weighted list the controller manages; throws RouteNotFoundError when the object has none. */
  protected abstract site(object: KubeObject, fault: Fault | undefined): SplitSite;
  abstract create(): KubeObject;

  /** What to use instead, for the A/B and mirror messages. */
  protected abstract readonly alternatives: { match: string; mirror: string; delay: string };

  /** A/B match routes; the default is "cannot", except that removing nothing is fine. */
  protected planMatch(
    _builder: PatchBuilder,
    matches: readonly RequestMatch[] | null,
    _next: TrafficRecord,
  ): void {
    if (matches !== null && matches.length > 0) {
      throw new UnsupportedOperationError(
        this.api,
        "route requests by header or cookie",
        this.alternatives.match,
      );
    }
  }

  protected planMirror(_builder: PatchBuilder, percent: number | null, _next: TrafficRecord): void {
    if (percent !== null)
      throw new UnsupportedOperationError(this.api, "mirror traffic", this.alternatives.mirror);
  }

  protected readMatch(_object: KubeObject, _record: TrafficRecord | undefined): RequestMatch[] | null {
    return null;
  }

  protected readMirror(_object: KubeObject): number | null {
    return null;
  }

  check(object: KubeObject): void {
    this.site(object, undefined);
  }

  parse(object: KubeObject): TrafficState {
    const record = readRecord(object, this.ctx.rollout);
    const site = this.site(object, record?.fault?.fault);
    const entries = asArray(new PatchBuilder(object).get(site.path));
    const split = readSplit(site, entries);
    const state: TrafficState = {
      ...weightState(split, site.scheme),
      match: this.readMatch(object, record),
      mirror: this.readMirror(object),
      fault:
        split.index.fault !== undefined
          ? (record?.fault ?? {
              fault: { abort: { httpStatus: 503, percent: split.shares.fault } },
              percent: split.shares.fault,
            })
          : null,
      managed: record !== undefined,
      object: objectInfo(object, this.ctx.namespace),
    };
    const found = drift(record, split.shares.canary, split.shares.unit);
    if (found) state.drift = found;
    return state;
  }

  plan(object: KubeObject, asked: Change): PatchBuilder {
    const builder = new PatchBuilder(object);
    const record = readRecord(object, this.ctx.rollout);
    const change = planAsFinalize(asked, record);
    const current = this.parse(object);
    const next: TrafficRecord = { ...(record ?? { canary: current.canaryWeight }) };
    const active = current.fault ? (record?.fault ?? current.fault) : undefined;
    switch (change.kind) {
      case "weight": {
        const site = this.site(builder.document, active?.fault);
        const percent = active?.percent ?? 0;
        Object.assign(
          next,
          planSplit(builder, site, { canaryPercent: change.canaryPercent, faultPercent: percent }, record),
        );
        next.canary = change.canaryPercent;
        break;
      }
      case "fault": {
        if (change.fault?.delay) {
          throw new UnsupportedOperationError(
            this.api,
            "delay requests (it has no fault filter)",
            this.alternatives.delay,
          );
        }
        const fault = change.fault ?? undefined;
        const site = this.site(builder.document, fault);
        const percent = fault ? faultPercent(fault) : 0;
        // The fault moves stable and canary alike; the canary keeps the share last asked for.
        Object.assign(
          next,
          planSplit(builder, site, { canaryPercent: next.canary, faultPercent: percent }, record),
        );
        if (fault) next.fault = activeFault(fault, percent, change.expiresAt);
        else delete next.fault;
        break;
      }
      case "match":
        this.planMatch(builder, change.matches, next);
        break;
      case "mirror":
        this.planMirror(builder, change.percent, next);
        break;
      case "finalize": {
        this.planMatch(builder, null, next);
        this.planMirror(builder, null, next);
        const site = this.site(builder.document, undefined);
        planSplit(builder, site, { canaryPercent: 0, faultPercent: 0, finalize: true }, record);
        writeRecord(builder, this.ctx.rollout, undefined);
        return builder;
      }
    }
    if (builder.changed || record !== undefined) writeRecord(builder, this.ctx.rollout, next);
    return builder;
  }
}
