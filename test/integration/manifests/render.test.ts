/**
 * manifests/ as kustomize builds it: every kustomization renders with the real kubectl, every file is part
 * of one, the install is the conventional safe one (least-privilege RBAC, probes, HA, non-root, metrics
 * scraped), the overlays differ from the base only by their mesh's rules, the dashboard reads metrics the
 * controller exports, the examples are complete, and every Rollout and SLOProfile passes `rollout lint`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { controllerCommand } from "../../../cli/commands/controller.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { ControllerMetrics } from "../../../src/telemetry/metrics.ts";
import {
  CONTROLLER,
  controllerGrants,
  filesOf,
  find,
  grantKey,
  idOf,
  kustomizations,
  kustomize,
  kustomizeWith,
  MANIFESTS,
  manifestFiles,
  OPT_IN_COMPONENTS,
  OVERLAYS,
  type Overlay,
  type PolicyRule,
  ROOT,
  rolloutCli,
  SERVICE_MONITOR_COMPONENT,
} from "./support.ts";

// biome-ignore lint/suspicious/noExplicitAny: assertions walk Kubernetes objects, which a precise type would only obscure
type Json = Record<string, any>;

const DIRS = kustomizations();
const EXAMPLES = DIRS.filter((dir) => dir.startsWith("manifests/examples/"));
const rendered = new Map<string, KubeObject[]>();
/** The Istio overlay with the service-monitor component, as a cluster with the Prometheus operator has it. */
let withMonitor: KubeObject[];

beforeAll(async () => {
  await Promise.all(DIRS.map(async (dir) => rendered.set(dir, await kustomize(dir))));
  withMonitor = await kustomizeWith("manifests/overlays/istio", [SERVICE_MONITOR_COMPONENT]);
});

const objectsOf = (dir: string) => {
  const objects = rendered.get(dir);
  if (!objects) throw new Error(`${dir} was not rendered`);
  return objects;
};

describe("kustomize", () => {
  it("finds the base, an overlay per mesh, the fault server, the dashboard and the examples", () => {
    expect(DIRS).toEqual(
      expect.arrayContaining([
        "manifests",
        "manifests/overlays/istio",
        "manifests/overlays/linkerd",
        "manifests/overlays/linkerd-smi",
        "manifests/overlays/consul",
        "manifests/fault-server",
        "manifests/grafana",
      ]),
    );
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(9);
  });

  it.each(DIRS)("renders %s", (dir) => {
    expect(objectsOf(dir).length).toBeGreaterThan(0);
    for (const object of objectsOf(dir)) {
      expect(object.apiVersion, idOf(object)).toBeTruthy();
      expect(object.metadata?.name, idOf(object)).toBeTruthy();
    }
  });

  it("leaves no file under manifests/ out of every kustomization (but the generated CRDs' directory and READMEs)", () => {
    const used = new Set<string>();
    for (const dir of [...DIRS, ...OPT_IN_COMPONENTS]) for (const file of filesOf(dir)) used.add(file);
    const orphans = manifestFiles()
      .filter((file) => !file.endsWith(".md"))
      .filter((file) => !used.has(file))
      .filter((file) => !relative(MANIFESTS, file).startsWith("crds/"))
      .map((file) => relative(ROOT, file));
    expect(orphans).toEqual([]);
    // the CRDs are in the base, as generated
    expect(used).toContain(join(MANIFESTS, "crds/rollouts.stepwise.dev.yaml"));
    expect(used).toContain(join(MANIFESTS, "crds/sloprofiles.stepwise.dev.yaml"));
  });
});

describe("the base (kubectl kustomize manifests)", () => {
  const base = () => objectsOf("manifests");
  const deployment = () => find(base(), "Deployment", "stepwise-controller") as Json;
  const container = () => deployment().spec.template.spec.containers[0] as Json;

  it("has the CRDs, the namespace, the controller's identity and roles, the Deployment, a metrics Service and a PodDisruptionBudget", () => {
    const kinds = new Set(base().map((o) => o.kind));
    for (const kind of [
      "CustomResourceDefinition",
      "Namespace",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "Deployment",
      "Service",
      "PodDisruptionBudget",
      "ConfigMap",
    ])
      expect(kinds, kind).toContain(kind);
    expect(
      base()
        .filter((o) => o.kind === "CustomResourceDefinition")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["rollouts.stepwise.dev", "sloprofiles.stepwise.dev"]);
    for (const object of base()) {
      const namespaced = ![
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
      ].includes(object.kind);
      expect(object.metadata.namespace, idOf(object)).toBe(namespaced ? CONTROLLER.namespace : undefined);
    }
  });

  it("runs two replicas of the controller with leader election in its own namespace", () => {
    const d = deployment();
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const args: string[] = container().args;
    expect(args[0]).toBe("controller");
    expect(args).toContain("--leader-elect");
    expect(args).toContain("--all-namespaces");
    expect(args).toContain("--leader-election-namespace=$(POD_NAMESPACE)");
    const podNamespace = container().env.find((e: Json) => e.name === "POD_NAMESPACE");
    expect(podNamespace.valueFrom.fieldRef.fieldPath).toBe("metadata.namespace");
    expect(d.spec.template.spec.serviceAccountName).toBe(CONTROLLER.serviceAccount);
  });

  it("passes only flags `rollout controller` has, and defines every $(VAR) it uses", () => {
    const known = new Set(controllerCommand().options.map((option) => option.long));
    expect(known).toContain("--leader-elect");
    const args: string[] = container().args.slice(1);
    for (const arg of args) {
      expect(arg.startsWith("--"), arg).toBe(true);
      expect(known, arg).toContain(arg.split("=")[0]);
    }
    const env = new Map<string, Json>(container().env.map((e: Json) => [e.name, e]));
    for (const [, name] of args.join(" ").matchAll(/\$\(([A-Z_]+)\)/g))
      expect(env.has(name!), name).toBe(true);
    for (const entry of env.values()) {
      const ref = entry.valueFrom?.configMapKeyRef;
      if (!ref) continue;
      const configMap = find(base(), "ConfigMap", ref.name) as Json;
      expect(configMap.data[ref.key], `${ref.name}/${ref.key}`).toBeTruthy();
    }
  });

  it("probes /healthz and /readyz on the metrics port and sets requests and limits", () => {
    const c = container();
    const port = c.ports.find((p: Json) => p.name === "metrics");
    expect(port.containerPort).toBe(9090);
    expect(c.args).toContain(`--metrics-addr=:${port.containerPort}`);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(c.startupProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    for (const resource of ["cpu", "memory"]) {
      expect(c.resources.requests[resource], resource).toBeDefined();
      expect(c.resources.limits[resource], resource).toBeDefined();
    }
  });

  it("runs as a non-root user on a read-only root filesystem, without privilege escalation or capabilities", () => {
    const pod = deployment().spec.template.spec;
    const c = container();
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault");
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    });
    // the only writable place: $TMPDIR, an emptyDir
    const tmp = c.env.find((e: Json) => e.name === "TMPDIR").value;
    const mount = c.volumeMounts.find((m: Json) => m.mountPath === tmp);
    expect(pod.volumes.find((v: Json) => v.name === mount.name).emptyDir).toBeDefined();
  });

  it("selects the controller's pods alike in the Deployment, the metrics Service, the ServiceMonitor and the PodDisruptionBudget", () => {
    const d = deployment();
    const podLabels = d.spec.template.metadata.labels;
    const includes = (labels: Json, selector: Json) =>
      Object.entries(selector).every(([key, value]) => labels[key] === value);
    expect(includes(podLabels, d.spec.selector.matchLabels)).toBe(true);

    const service = find(base(), "Service", "stepwise-controller-metrics") as Json;
    expect(includes(podLabels, service.spec.selector)).toBe(true);
    const servicePort = service.spec.ports[0];
    expect(servicePort.targetPort).toBe("metrics");

    const monitor = find(withMonitor, "ServiceMonitor") as Json;
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(includes(service.metadata.labels, monitor.spec.selector.matchLabels)).toBe(true);
    expect(monitor.spec.namespaceSelector.matchNames).toEqual([CONTROLLER.namespace]);
    expect(monitor.spec.endpoints).toEqual([
      expect.objectContaining({ port: servicePort.name, path: "/metrics", honorLabels: true }),
    ]);

    const pdb = find(base(), "PodDisruptionBudget") as Json;
    expect(pdb.apiVersion).toBe("policy/v1");
    expect(includes(podLabels, pdb.spec.selector.matchLabels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(d.spec.replicas);
  });

  it("needs no CRD but its own: the ServiceMonitor is in no overlay, and the service-monitor component adds it and nothing else", () => {
    for (const dir of DIRS.filter((d) => !d.startsWith("manifests/examples/")))
      expect(
        objectsOf(dir).map((o) => o.kind),
        dir,
      ).not.toContain("ServiceMonitor");
    const overlay = objectsOf("manifests/overlays/istio").map(idOf);
    const added = withMonitor.map(idOf).filter((id) => !overlay.includes(id));
    expect(added).toEqual(["monitoring.coreos.com/v1/ServiceMonitor stepwise-system/stepwise-controller"]);
    expect(withMonitor).toHaveLength(overlay.length + 1);
  });

  it("grants the controller no wildcard, no Secret and no rights on a mesh's route objects", () => {
    const { grants, roles } = controllerGrants(base());
    expect(roles.sort()).toEqual([
      "rbac.authorization.k8s.io/v1/ClusterRole stepwise-controller",
      "rbac.authorization.k8s.io/v1/Role stepwise-system/stepwise-leader-election",
    ]);
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) {
      expect(grant.resource).not.toBe("secrets");
      expect(Object.values(OVERLAYS).flat() as string[]).not.toContain(grant.group);
    }
    // leases only in the controller's namespace, and only the one lease it uses (but create)
    const leases = grants.filter((g) => g.resource === "leases");
    expect(leases.map(grantKey).sort()).toEqual([
      "coordination.k8s.io leases create in stepwise-system",
      "coordination.k8s.io leases get in stepwise-system named stepwise-controller",
      "coordination.k8s.io leases patch in stepwise-system named stepwise-controller",
    ]);
  });
});

describe("RBAC everywhere", () => {
  it.each(DIRS)("%s: no wildcard in any role", (dir) => {
    for (const role of objectsOf(dir).filter((o) => o.kind === "ClusterRole" || o.kind === "Role")) {
      for (const rule of (role.rules ?? []) as PolicyRule[]) {
        const values = [
          ...(rule.apiGroups ?? []),
          ...(rule.resources ?? []),
          ...rule.verbs,
          ...(rule.resourceNames ?? []),
          ...(rule.nonResourceURLs ?? []),
        ];
        expect(
          values.filter((v) => v.includes("*")),
          `${idOf(role)} ${JSON.stringify(rule)}`,
        ).toEqual([]);
      }
    }
  });
});

describe.each(Object.keys(OVERLAYS) as Overlay[])("the %s overlay", (overlay) => {
  const dir = `manifests/overlays/${overlay}`;

  it("is the base's controller (without the CRDs) with only its own mesh's route objects added to the ClusterRole", () => {
    const base = objectsOf("manifests").filter((o) => o.kind !== "CustomResourceDefinition");
    const objects = objectsOf(dir);
    expect(objects.map(idOf).sort()).toEqual(base.map(idOf).sort());
    for (const object of objects) {
      const before = base.find((o) => idOf(o) === idOf(object))!;
      if (object.kind === "ClusterRole" && object.metadata.name === "stepwise-controller") {
        const rules = object.rules as PolicyRule[];
        const baseRules = before.rules as PolicyRule[];
        expect(rules.slice(0, baseRules.length)).toEqual(baseRules);
        const added = rules.slice(baseRules.length);
        expect(added.length).toBeGreaterThan(0);
        for (const rule of added) {
          expect(rule.apiGroups?.length).toBe(1);
          expect(OVERLAYS[overlay]).toContain(rule.apiGroups![0]);
        }
      } else expect(object, idOf(object)).toEqual(before);
    }
  });
});

describe("the Grafana dashboard", () => {
  const dashboard = () => {
    const configMap = find(objectsOf("manifests/grafana"), "ConfigMap") as Json;
    expect(configMap.metadata.labels.grafana_dashboard).toBe("1");
    return JSON.parse(configMap.data["stepwise-controller.json"]) as Json;
  };
  const panels = () => dashboard().panels.filter((p: Json) => p.type !== "row") as Json[];

  it("has a uid, unique panel ids and every panel on the selectable Prometheus data source", () => {
    const d = dashboard();
    expect(d.uid).toBe("stepwise-controller");
    const ids = d.panels.map((p: Json) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels()) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    }
  });

  it("shows phase, desired and applied weight, verdicts, reconcile latency and API errors", () => {
    const exprs = panels().flatMap((p) => p.targets.map((t: Json) => t.expr as string));
    for (const needed of [
      "stepwise_rollout_phase",
      'stepwise_rollout_canary_weight_percent{namespace=~"$namespace", rollout=~"$rollout"}',
      "stepwise_analysis_verdict",
      "stepwise_reconcile_duration_seconds_bucket",
      'stepwise_kube_api_requests_total{job=~"$job", code!~"2.."}',
    ])
      expect(
        exprs.some((e) => e.includes(needed)),
        needed,
      ).toBe(true);
  });

  it("queries only metrics and labels the controller exports (plus the scrape's job)", async () => {
    const metrics = new ControllerMetrics();
    metrics.recordRollout("shop", "checkout", {
      phase: "Progressing",
      desired: 5,
      applied: 5,
      verdicts: [{ profile: "http-availability", verdict: "Pass" }],
    });
    metrics.reconcileDuration.observe({ result: "ok" }, 0.1);
    metrics.apiRequests.inc({ verb: "get", code: "200" });
    const exported = new Map<string, Set<string>>();
    for (const line of (await metrics.registry.metrics()).split("\n")) {
      const match = /^([a-z_]+)(?:\{(.*)\})? /.exec(line);
      if (!match) continue;
      const labels = exported.get(match[1]!) ?? new Set(["job", "instance"]);
      for (const [, label] of (match[2] ?? "").matchAll(/([a-z_]+)="/g)) labels.add(label!);
      exported.set(match[1]!, labels);
    }
    const exprs = panels().flatMap((p) => p.targets.map((t: Json) => t.expr as string));
    const variables = dashboard().templating.list.map((v: Json) => v.definition ?? "");
    let checked = 0;
    for (const expr of [...exprs, ...variables]) {
      for (const [, name, selector] of expr.matchAll(/(stepwise_[a-z_]+)(?:\{([^}]*)\})?/g)) {
        checked++;
        expect(exported.has(name!), `${name} in ${expr}`).toBe(true);
        for (const [, label] of (selector ?? "").matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g))
          expect(exported.get(name!), `${name}{${label}} in ${expr}`).toContain(label);
      }
    }
    expect(checked).toBeGreaterThan(10);
  });
});

describe("the examples", () => {
  it.each(EXAMPLES)(
    "%s: its own namespace, the app's Deployment and Service, and a Rollout for them",
    (dir) => {
      const objects = objectsOf(dir) as Json[];
      const namespaces = objects.filter((o) => o.kind === "Namespace");
      expect(namespaces).toHaveLength(1);
      const namespace = namespaces[0]!.metadata.name;
      for (const object of objects)
        if (object.kind !== "Namespace")
          expect(object.metadata.namespace, idOf(object as KubeObject)).toBe(namespace);

      const rollouts = objects.filter((o) => o.kind === "Rollout");
      expect(rollouts).toHaveLength(1);
      const rollout = rollouts[0]!;
      const target = objects.find(
        (o) => o.kind === "Deployment" && o.metadata.name === rollout.spec.targetRef.name,
      );
      expect(target, "the Rollout's target Deployment").toBeDefined();
      const containers = target!.spec.template.spec.containers;
      expect(containers).toHaveLength(1);
      expect(containers[0].image).toMatch(/^ghcr\.io\/stefanprodan\/podinfo:/);

      const apex = objects.find((o) => o.kind === "Service" && o.metadata.name === rollout.metadata.name);
      expect(apex, "the app's Service").toBeDefined();
      const port = apex!.spec.ports.find((p: Json) => p.port === rollout.spec.service.port);
      expect(port, "a Service port equal to spec.service.port").toBeDefined();
      const targetPort = rollout.spec.service.targetPort ?? rollout.spec.service.port;
      expect(
        containers[0].ports.some((p: Json) => p.name === targetPort || p.containerPort === targetPort),
        `the container serves spec.service.targetPort ${targetPort}`,
      ).toBe(true);

      // The app's Service selects the stable pods (the primary's selector labels end in -primary), or in
      // Istio subset mode a label both kinds of pod keep.
      const selector: Json = apex!.spec.selector;
      const podLabels: Json = target!.spec.template.metadata.labels;
      const primaryLabels: Json = { ...podLabels };
      for (const [key, value] of Object.entries(target!.spec.selector.matchLabels))
        primaryLabels[key] = `${value}-primary`;
      const selects = (labels: Json) => Object.entries(selector).every(([k, v]) => labels[k] === v);
      expect(selects(primaryLabels), "the Service selects the stable pods").toBe(true);
      if (rollout.spec.traffic.istio?.mode === "subset")
        expect(selects(podLabels), "in subset mode, the new version's pods too").toBe(true);

      for (const profile of objects.filter((o) => o.kind === "SLOProfile"))
        expect(rollout.spec.analysis.profiles.map((p: Json) => p.name)).toContain(profile.metadata.name);
    },
  );

  it("cover every traffic API, strategy, a chaos gate and a custom SLOProfile", () => {
    const all = EXAMPLES.flatMap((dir) => objectsOf(dir)) as Json[];
    const rollouts = all.filter((o) => o.kind === "Rollout");
    const cases = new Set<string>();
    for (const r of rollouts) {
      const { provider, routeRef, istio } = r.spec.traffic;
      if (provider === "istio") cases.add(istio?.mode === "subset" ? "istio subset" : "istio host");
      if (routeRef) cases.add(`${provider} routeRef`);
      cases.add(provider);
      for (const strategy of Object.keys(r.spec.strategy)) cases.add(strategy);
      if (r.spec.strategy.abTest?.match.some((m: Json) => m.headers)) cases.add("A/B by header");
      if (r.spec.strategy.canary?.steps.some((s: Json) => s.chaos)) cases.add("chaos gate");
    }
    if (all.some((o) => o.kind === "SLOProfile")) cases.add("custom SLOProfile");
    expect([...cases].sort()).toEqual(
      expect.arrayContaining([
        "A/B by header",
        "blueGreen",
        "canary",
        "chaos gate",
        "consul",
        "custom SLOProfile",
        "gateway",
        "istio host",
        "istio routeRef",
        "istio subset",
        "smi",
      ]),
    );
  });
});

describe("rollout lint", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stepwise-lint-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("passes every Rollout and SLOProfile in every kustomization, as rendered (and reports a broken one)", async () => {
    const files: string[] = [];
    for (const source of DIRS) {
      const documents = objectsOf(source).filter((o) => o.kind === "Rollout" || o.kind === "SLOProfile");
      for (const [index, document] of documents.entries()) {
        const file = join(dir, `${source.replaceAll("/", "_")}-${index}.yaml`);
        await writeFile(file, stringify(document));
        files.push(file);
      }
    }
    expect(files.length).toBeGreaterThanOrEqual(EXAMPLES.length + 1);
    // One run of the real CLI over all of them and a copy of the first with a mistake, to see that the
    // check is live: lint reports every error of every file, so only the broken copy may be named.
    const broken = parse(stringify(objectsOf(EXAMPLES[0]!).find((o) => o.kind === "Rollout"))) as Json;
    broken.spec.traffic.provider = "linkerd";
    const brokenFile = join(dir, "broken.yaml");
    await writeFile(brokenFile, stringify(broken));
    const result = await rolloutCli(["lint", ...files, brokenFile]);
    const errors = result.stderr.trim().split("\n");
    expect(errors).toEqual([expect.stringMatching(/^.*broken\.yaml:\d+: spec\.traffic\.provider: /)]);
    expect(result.code).toBe(2);
  });
});
