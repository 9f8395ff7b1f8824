/**
 * Gateway API HTTPRoute and GRPCRoute (gateway.networking.k8s.io): how current Linkerd, and any GAMMA
 * mesh, splits traffic. Pure part.
 *
 * What the controller owns in a route:
 * - the managed rule: the rule named by `routeName`, or else the first rule whose backendRefs are all the
 *   rollout's Services (`-primary`, `-canary`, `-fault`) and include the stable one. In it: those
 *   backendRefs and their weights, and the RequestMirror filter whose backend is the canary;
 * - the A/B rule named `stepwise-match-<rollout>`, inserted just before the managed rule;
 * - its record annotation `traffic.stepwise.dev/<rollout>`.
 * Weights are relative: the controller gives the rollout 10000 units (stable 9950, canary 50 is 0.5%).
 */
import type { KubeObject } from "../../kube/client.ts";
import { BackendFaultModel } from "../backend.ts";
import { RouteNotFoundError, UnsupportedOperationError } from "../errors.ts";
import { faultHeaders, gatewayHeaders } from "../match.ts";
import { backendNames, crossMatches, describeObject, matchRouteName, ownedMetadata } from "../model.ts";
import { asArray, asRecord, type PatchBuilder, pointer } from "../patch.ts";
import type { TrafficRecord } from "../record.ts";
import { destinationRole, type Role, type RoleNames } from "../roles.ts";
import type { SplitSite } from "../split.ts";
import type { Fault, RequestMatch, RouterCapabilities, RouterContext } from "../traffic-router.ts";
import { GATEWAY_WEIGHTS } from "../weights.ts";

export const GATEWAY_GROUP = "gateway.networking.k8s.io";
export const GATEWAY_VERSIONS: Record<GatewayKind, readonly string[]> = {
  HTTPRoute: ["v1", "v1beta1"],
  GRPCRoute: ["v1", "v1alpha2"],
};

export type GatewayKind = "HTTPRoute" | "GRPCRoute";

export interface GatewayContext extends RouterContext {
  /** parentRefs of a route the controller creates; by default the apex Service (GAMMA, as Linkerd uses). */
  parentRefs?: Record<string, unknown>[];
}

/** Rule fields that belong to the managed rule only; the A/B rule copies the others (timeouts, retry, ...). */
const NOT_COPIED = new Set(["name", "matches", "filters", "backendRefs"]);

export class GatewayModel extends BackendFaultModel {
  readonly api: string;
  readonly capabilities: RouterCapabilities;
  protected readonly alternatives: { match: string; mirror: string; delay: string };
  private readonly names: RoleNames;

  constructor(
    override readonly ctx: GatewayContext,
    readonly kind: GatewayKind,
    readonly apiVersion: string,
  ) {
    super(ctx);
    this.api = `Gateway API ${kind}`;
    this.names = backendNames(ctx);
    this.capabilities = {
      minStep: GATEWAY_WEIGHTS.minStep,
      headerMatch: true,
      cookieMatch: kind === "HTTPRoute",
      mirror: true,
      delayFault: false,
      abortFault: "backend",
      dependencyFault: false,
    };
    this.alternatives = {
      match: "",
      mirror: "",
      delay: `use provider istio for delay faults; abort faults work here as a weighted share to the error backend ${ctx.faultService}`,
    };
  }

  private backendRole(ref: unknown): Role {
    const r = asRecord(ref);
    // Only a core Service can be one of the rollout's (a backendRef may name any kind).
    const core = (r.group ?? "") === "" && (r.kind ?? "Service") === "Service";
    return destinationRole(this.names, { service: core ? r.name : undefined, namespace: r.namespace });
  }

  /** Index of the managed rule; throws RouteNotFoundError with what to change. */
  managedRuleIndex(object: KubeObject): number {
    const { ctx } = this;
    const rules = asArray(asRecord(object.spec).rules);
    if (ctx.routeName !== undefined) {
      const index = rules.findIndex((r) => asRecord(r).name === ctx.routeName);
      if (index < 0)
        throw new RouteNotFoundError(describeObject(object), `has no rule named "${ctx.routeName}"`);
      if (!asArray(asRecord(rules[index]).backendRefs).some((b) => this.backendRole(b) === "stable")) {
        throw new RouteNotFoundError(
          describeObject(object),
          `rule "${ctx.routeName}" has no backendRef ${ctx.stableService}; add it (weight 1)`,
        );
      }
      return index;
    }
    const index = rules.findIndex((r) => {
      const rule = asRecord(r);
      if (rule.name === matchRouteName(ctx)) return false;
      const roles = asArray(rule.backendRefs).map((b) => this.backendRole(b));
      return roles.includes("stable") && roles.every((role) => role !== "foreign");
    });
    if (index < 0) {
      throw new RouteNotFoundError(
        describeObject(object),
        `has no rule whose backendRefs are only ${ctx.stableService} (and ${ctx.canaryService}); add such a rule, or name the rule to manage`,
      );
    }
    return index;
  }

  protected site(object: KubeObject, fault: Fault | undefined): SplitSite {
    const index = this.managedRuleIndex(object);
    const headers = faultHeaders(fault);
    return {
      path: pointer("spec", "rules", index, "backendRefs"),
      scheme: GATEWAY_WEIGHTS,
      role: (entry) => this.backendRole(entry),
      label: (entry) => String(asRecord(entry).name),
      // "Weight ... defaults to 1."
      omittedUnits: () => 1,
      canaryEntry: (stable) => {
        const { weight: _weight, ...rest } = stable;
        return { ...rest, name: this.ctx.canaryService };
      },
      faultEntry: (stable) => {
        const { weight: _weight, filters: _filters, ...rest } = stable;
        const entry: Record<string, unknown> = { ...rest, name: this.ctx.faultService };
        const set = Object.entries(headers).map(([name, value]) => ({ name, value }));
        if (set.length > 0)
          entry.filters = [{ type: "RequestHeaderModifier", requestHeaderModifier: { set } }];
        return entry;
      },
    };
  }

  create(): KubeObject {
    const { ctx } = this;
    const parentRefs = ctx.parentRefs ?? [{ group: "", kind: "Service", name: ctx.service, port: ctx.port }];
    return {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: ownedMetadata(ctx, ctx.routeRef?.name ?? ctx.rollout),
      spec: {
        parentRefs: parentRefs.map((p) => structuredClone(p)),
        rules: [
          {
            backendRefs: [
              { name: ctx.stableService, port: ctx.port, weight: GATEWAY_WEIGHTS.total },
              { name: ctx.canaryService, port: ctx.port, weight: 0 },
            ],
          },
        ],
      },
    };
  }

  private isOurMirror(filter: unknown): boolean {
    const f = asRecord(filter);
    return f.type === "RequestMirror" && this.backendRole(asRecord(f.requestMirror).backendRef) === "canary";
  }

  protected override readMatch(object: KubeObject, record: TrafficRecord | undefined): RequestMatch[] | null {
    const present = asArray(asRecord(object.spec).rules).some(
      (r) => asRecord(r).name === matchRouteName(this.ctx),
    );
    return present ? [...(record?.match ?? [])] : null;
  }

  protected override readMirror(object: KubeObject): number | null {
    const rule = asRecord(asArray(asRecord(object.spec).rules)[this.managedRuleIndex(object)]);
    const filter = asArray(rule.filters).find((f) => this.isOurMirror(f));
    if (!filter) return null;
    const mirror = asRecord(asRecord(filter).requestMirror);
    if (typeof mirror.percent === "number") return mirror.percent;
    const fraction = asRecord(mirror.fraction);
    if (typeof fraction.numerator === "number") {
      const denominator = typeof fraction.denominator === "number" ? fraction.denominator : 100;
      return Math.round(((fraction.numerator * 100) / denominator) * 1e6) / 1e6;
    }
    return 100;
  }

  protected override planMatch(
    builder: PatchBuilder,
    matches: readonly RequestMatch[] | null,
    next: TrafficRecord,
  ): void {
    const name = matchRouteName(this.ctx);
    const rules = () => asArray(asRecord(builder.document.spec).rules);
    const existing = rules().findIndex((r) => asRecord(r).name === name);
    if (matches === null || matches.length === 0) {
      if (existing >= 0) builder.remove(pointer("spec", "rules", existing));
      delete next.match;
      return;
    }
    if (this.kind === "GRPCRoute" && matches.some((m) => m.cookie !== undefined)) {
      throw new UnsupportedOperationError(
        this.api,
        "match a cookie (gRPC requests carry no cookies)",
        "match a metadata header instead",
      );
    }
    const index = this.managedRuleIndex(builder.document);
    const managed = asRecord(rules()[index]);
    const desired = this.matchRule(managed, matches);
    if (existing >= 0) builder.set(pointer("spec", "rules", existing), desired);
    else builder.insert("/spec/rules", index, desired);
    next.match = matches.map((m) => structuredClone(m));
  }

  /** The A/B rule: the managed rule's matches ANDed with the A/B headers, its filters and settings, to the canary. */
  private matchRule(
    managed: Record<string, unknown>,
    matches: readonly RequestMatch[],
  ): Record<string, unknown> {
    const refs = asArray(managed.backendRefs);
    const stable = asRecord(refs.find((b) => this.backendRole(b) === "stable"));
    const { weight: _weight, ...stableRest } = stable;
    const rule: Record<string, unknown> = {
      name: matchRouteName(this.ctx),
      matches: crossMatches(asArray(managed.matches).map(asRecord), matches, (base, ab) => {
        const added = gatewayHeaders(ab);
        const names = new Set(added.map((h) => h.name.toLowerCase()));
        const kept = asArray(base.headers).filter((h) => !names.has(String(asRecord(h).name).toLowerCase()));
        return { ...base, headers: [...kept, ...added] };
      }),
    };
    const filters = asArray(managed.filters).filter((f) => !this.isOurMirror(f));
    if (filters.length > 0) rule.filters = structuredClone(filters);
    rule.backendRefs = [{ ...stableRest, name: this.ctx.canaryService }];
    for (const [key, value] of Object.entries(managed))
      if (!NOT_COPIED.has(key)) rule[key] = structuredClone(value);
    return rule;
  }

  protected override planMirror(builder: PatchBuilder, percent: number | null, next: TrafficRecord): void {
    const index = this.managedRuleIndex(builder.document);
    const rule = asRecord(asArray(asRecord(builder.document.spec).rules)[index]);
    const filters = asArray(rule.filters);
    const ours = filters.findIndex((f) => this.isOurMirror(f));
    const filtersPath = pointer("spec", "rules", index, "filters");
    if (percent === null) {
      if (ours >= 0) {
        if (filters.length === 1) builder.remove(filtersPath);
        else builder.remove(pointer("spec", "rules", index, "filters", ours));
      }
      delete next.mirror;
      return;
    }
    const stable = asRecord(asArray(rule.backendRefs).find((b) => this.backendRole(b) === "stable"));
    const backendRef: Record<string, unknown> = { name: this.ctx.canaryService };
    for (const key of ["group", "kind", "namespace", "port"])
      if (stable[key] !== undefined) backendRef[key] = stable[key];
    // Whole percents as `percent`; finer ones as a fraction (GEP-3171), e.g. 0.5% = 50/10000.
    const share = Number.isInteger(percent)
      ? { percent }
      : { fraction: { numerator: Math.round(percent * 100), denominator: 10_000 } };
    const filter = { type: "RequestMirror", requestMirror: { backendRef, ...share } };
    if (ours >= 0) builder.set(pointer("spec", "rules", index, "filters", ours), filter);
    else if (rule.filters === undefined) builder.set(filtersPath, [filter]);
    else builder.insert(filtersPath, "-", filter);
    next.mirror = percent;
  }
}
