import { clone, deepEqual } from "../json.ts";
import type { Schema } from "../schema.ts";
import { type FieldError, renderValue } from "../status-errors.ts";
import { isObj, type KubeObject, type Obj } from "../types.ts";
import * as schemas from "./builtin-schemas.ts";
import { crdStrategy } from "./crd.ts";
import type { Conversion, ResourceType, ScaleSubresource, Strategy } from "./registry.ts";

interface BuiltinDef {
  group?: string;
  version?: string;
  kind: string;
  plural: string;
  shortNames?: string[];
  categories?: string[];
  namespaced?: boolean;
  schema: Schema;
  status?: boolean;
  scale?: ScaleSubresource;
  generation?: boolean;
  fieldSelectors?: string[];
  allowCreateOnUpdate?: boolean;
  returnDeletedObject?: boolean;
  strategy?: Strategy;
  conversion?: Conversion;
  storageKey?: string;
  storageVersion?: string;
}

function builtin(def: BuiltinDef): ResourceType {
  const group = def.group ?? "";
  return {
    group,
    version: def.version ?? "v1",
    kind: def.kind,
    listKind: `${def.kind}List`,
    plural: def.plural,
    singular: def.kind.toLowerCase(),
    shortNames: def.shortNames ?? [],
    categories: def.categories ?? [],
    namespaced: def.namespaced ?? true,
    custom: false,
    storageKey: def.storageKey ?? `${group}/${def.plural}`,
    storageVersion: def.storageVersion ?? (group ? `${group}/${def.version ?? "v1"}` : (def.version ?? "v1")),
    schema: def.schema,
    statusSubresource: def.status ?? false,
    scale: def.scale,
    hasGeneration: def.generation ?? false,
    fieldSelectors: def.fieldSelectors ?? [],
    allowCreateOnUpdate: def.allowCreateOnUpdate ?? false,
    returnDeletedObject: def.returnDeletedObject ?? false,
    strategy: def.strategy ?? {},
    conversion: def.conversion,
  };
}

function section(obj: Obj, key: string): Obj {
  const value = obj[key];
  if (isObj(value)) return value;
  const fresh: Obj = {};
  obj[key] = fresh;
  return fresh;
}

function containersOf(podSpec: unknown): Obj[] {
  if (!isObj(podSpec)) return [];
  const all = [podSpec.containers, podSpec.initContainers].flatMap((list) =>
    Array.isArray(list) ? list : [],
  );
  return all.filter(isObj);
}

/** The apiserver's imagePullPolicy default depends on the image tag, which a schema default cannot express. */
function defaultPodSpec(podSpec: unknown): void {
  for (const container of containersOf(podSpec)) {
    if (container.imagePullPolicy !== undefined || typeof container.image !== "string") continue;
    const tag = /:([^:/@]+)$/.exec(container.image)?.[1];
    container.imagePullPolicy = tag === undefined || tag === "latest" ? "Always" : "IfNotPresent";
  }
}

function selectorMatches(selector: Obj, labels: Record<string, string>): boolean {
  const matchLabels = isObj(selector.matchLabels) ? selector.matchLabels : {};
  if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) return false;
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions.filter(isObj) : [];
  return expressions.every((e) => {
    const key = String(e.key);
    const values = Array.isArray(e.values) ? e.values.map(String) : [];
    const has = Object.hasOwn(labels, key);
    switch (e.operator) {
      case "In":
        return has && values.includes(labels[key]!);
      case "NotIn":
        return !has || !values.includes(labels[key]!);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}

/** Deployment and ReplicaSet share these checks: a selector that matches its own pod template. */
function validateWorkload(obj: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errors: FieldError[] = [];
  const spec = isObj(obj.spec) ? obj.spec : {};
  const selector = spec.selector;
  if (!isObj(selector)) errors.push({ field: "spec.selector", type: "FieldValueRequired" });
  const template = isObj(spec.template) ? spec.template : {};
  const labels = (
    isObj(template.metadata) && isObj(template.metadata.labels) ? template.metadata.labels : {}
  ) as Record<string, string>;
  if (isObj(selector) && !selectorMatches(selector, labels)) {
    errors.push({
      field: "spec.template.metadata.labels",
      type: "FieldValueInvalid",
      value: renderValue(labels),
      detail: "`selector` does not match template `labels`",
    });
  }
  const podSpec = isObj(template.spec) ? template.spec : {};
  if (!Array.isArray(podSpec.containers) || podSpec.containers.length === 0) {
    errors.push({ field: "spec.template.spec.containers", type: "FieldValueRequired" });
  }
  if (typeof spec.replicas === "number" && spec.replicas < 0) {
    errors.push({
      field: "spec.replicas",
      type: "FieldValueInvalid",
      value: String(spec.replicas),
      detail: "must be greater than or equal to 0",
    });
  }
  const oldSelector = old && isObj(old.spec) ? old.spec.selector : undefined;
  if (old && !deepEqual(oldSelector, selector)) {
    errors.push({
      field: "spec.selector",
      type: "FieldValueInvalid",
      value: renderValue(selector),
      detail: "field is immutable",
    });
  }
  return errors;
}

function defaultWorkload(obj: KubeObject): void {
  const spec = section(obj, "spec");
  if (isObj(spec.template)) defaultPodSpec(spec.template.spec);
}

function defaultDeployment(obj: KubeObject): void {
  defaultWorkload(obj);
  const spec = section(obj, "spec");
  const strategy = section(spec, "strategy");
  strategy.type ??= "RollingUpdate";
  if (strategy.type === "RollingUpdate") {
    const rolling = section(strategy, "rollingUpdate");
    rolling.maxUnavailable ??= "25%";
    rolling.maxSurge ??= "25%";
  }
}

/** Service addresses come from a small allocator so each Service gets a stable, unique cluster IP and node ports. */
function serviceStrategy(): Strategy {
  let nextIp = 10;
  let nextNodePort = 30000;
  const fillPorts = (spec: Obj, old: Obj | undefined) => {
    const ports = Array.isArray(spec.ports) ? spec.ports.filter(isObj) : [];
    const oldPorts = old && Array.isArray(old.ports) ? old.ports.filter(isObj) : [];
    for (const port of ports) {
      port.targetPort ??= port.port;
      if (spec.type !== "NodePort" && spec.type !== "LoadBalancer") continue;
      const previous = oldPorts.find((p) => p.port === port.port && p.protocol === port.protocol);
      port.nodePort ??= previous?.nodePort ?? nextNodePort++;
    }
  };
  const fillCommon = (spec: Obj) => {
    if (spec.type === "ExternalName") return;
    spec.ipFamilies ??= ["IPv4"];
    spec.ipFamilyPolicy ??= "SingleStack";
    spec.internalTrafficPolicy ??= "Cluster";
    if (spec.type === "NodePort" || spec.type === "LoadBalancer") spec.externalTrafficPolicy ??= "Cluster";
  };
  return {
    prepareForCreate(obj) {
      const spec = section(obj, "spec");
      if (spec.type !== "ExternalName" && spec.clusterIP === undefined) {
        const n = nextIp++;
        spec.clusterIP = `10.96.${Math.floor(n / 256)}.${n % 256}`;
      }
      if (typeof spec.clusterIP === "string") spec.clusterIPs ??= [spec.clusterIP];
      fillCommon(spec);
      fillPorts(spec, undefined);
      obj.status = { loadBalancer: {} };
    },
    prepareForUpdate(obj, old) {
      const spec = section(obj, "spec");
      const oldSpec = isObj(old.spec) ? old.spec : {};
      spec.clusterIP ??= oldSpec.clusterIP;
      spec.clusterIPs ??= oldSpec.clusterIPs;
      fillCommon(spec);
      fillPorts(spec, oldSpec);
    },
    validate(obj, old) {
      const spec = isObj(obj.spec) ? obj.spec : {};
      const errors: FieldError[] = [];
      const ports = Array.isArray(spec.ports) ? spec.ports.filter(isObj) : [];
      if (spec.type !== "ExternalName" && spec.clusterIP !== "None" && ports.length === 0) {
        errors.push({ field: "spec.ports", type: "FieldValueRequired" });
      }
      ports.forEach((port, i) => {
        if (typeof port.port === "number" && (port.port < 1 || port.port > 65535)) {
          errors.push({
            field: `spec.ports[${i}].port`,
            type: "FieldValueInvalid",
            value: String(port.port),
            detail: "must be between 1 and 65535, inclusive",
          });
        }
      });
      const oldIp = old && isObj(old.spec) ? old.spec.clusterIP : undefined;
      if (old && oldIp !== undefined && spec.clusterIP !== oldIp) {
        errors.push({
          field: "spec.clusterIPs[0]",
          type: "FieldValueInvalid",
          value: renderValue(spec.clusterIP),
          detail: "may not change once set",
        });
      }
      return errors;
    },
  };
}

const namespaceStrategy: Strategy = {
  prepareForCreate(obj) {
    obj.spec = { finalizers: ["kubernetes"] };
    obj.status = { phase: "Active" };
    namespaceLabel(obj);
  },
  prepareForUpdate(obj, old) {
    // spec.finalizers changes only through the /finalize subresource
    obj.spec = clone(old.spec);
    namespaceLabel(obj);
  },
};

function namespaceLabel(obj: KubeObject): void {
  obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name ?? "" };
}

/** `stringData` is a write-only convenience: it lands base64-encoded in `data`. */
function secretData(obj: KubeObject): void {
  obj.type ??= "Opaque";
  if (!isObj(obj.stringData)) return;
  const data = section(obj, "data");
  for (const [key, value] of Object.entries(obj.stringData))
    data[key] = Buffer.from(String(value)).toString("base64");
  delete obj.stringData;
}

/** events.k8s.io/v1 renames several core Event fields; both APIs share one storage. */
const EVENT_RENAMES: [core: string, events: string][] = [
  ["message", "note"],
  ["involvedObject", "regarding"],
  ["reportingComponent", "reportingController"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"],
];

function renameFields(obj: KubeObject, pairs: [string, string][], apiVersion: string): KubeObject {
  const out: KubeObject = { ...obj, apiVersion };
  for (const [from, to] of pairs) {
    if (!(from in out)) continue;
    out[to] = out[from];
    delete out[from];
  }
  return out;
}

const eventsV1Conversion: Conversion = {
  toStorage: (obj) =>
    renameFields(
      obj,
      EVENT_RENAMES.map(([c, e]) => [e, c]),
      "v1",
    ),
  fromStorage: (obj) => renameFields(obj, EVENT_RENAMES, "events.k8s.io/v1"),
};

const RBAC_GROUP = "rbac.authorization.k8s.io";

/** A binding's roleRef: a Role or ClusterRole of the RBAC group (`kinds`), and immutable once set. */
function validateBinding(kinds: string[]): Strategy["validate"] {
  return (obj, old) => {
    const errors: FieldError[] = [];
    const roleRef = isObj(obj.roleRef) ? obj.roleRef : {};
    if (roleRef.apiGroup !== RBAC_GROUP)
      errors.push({
        field: "roleRef.apiGroup",
        type: "FieldValueNotSupported",
        value: renderValue(roleRef.apiGroup ?? ""),
        detail: `supported values: "${RBAC_GROUP}"`,
      });
    if (!kinds.includes(String(roleRef.kind)))
      errors.push({
        field: "roleRef.kind",
        type: "FieldValueNotSupported",
        value: renderValue(roleRef.kind ?? ""),
        detail: `supported values: ${kinds.map((k) => `"${k}"`).join(", ")}`,
      });
    if (old && !deepEqual(old.roleRef, obj.roleRef))
      errors.push({
        field: "roleRef",
        type: "FieldValueInvalid",
        value: renderValue(obj.roleRef),
        detail: "cannot change roleRef",
      });
    return errors;
  };
}

/** minAvailable and maxUnavailable exclude each other; the disruption controller fills the status. */
const podDisruptionBudgetStrategy: Strategy = {
  prepareForCreate(obj) {
    obj.status = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
  },
  validate(obj) {
    const spec = isObj(obj.spec) ? obj.spec : {};
    if (spec.minAvailable === undefined || spec.maxUnavailable === undefined) return [];
    return [
      {
        field: "spec",
        type: "FieldValueInvalid",
        value: renderValue(spec),
        detail: "minAvailable and maxUnavailable cannot be both set",
      },
    ];
  },
};

/** autoscaling/v2 defaults (SetDefaults_HorizontalPodAutoscaler): one replica at least, 80% CPU when no metric is given. */
function defaultHorizontalPodAutoscaler(obj: KubeObject): void {
  const spec = section(obj, "spec");
  spec.minReplicas ??= 1;
  if (!Array.isArray(spec.metrics) || spec.metrics.length === 0)
    spec.metrics = [
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } },
      },
    ];
}

/** validateHorizontalPodAutoscalerSpec's replica bounds and scaleTargetRef (pkg/apis/autoscaling/validation). */
function validateHorizontalPodAutoscaler(obj: KubeObject): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const errors: FieldError[] = [];
  const min = typeof spec.minReplicas === "number" ? spec.minReplicas : undefined;
  const max = typeof spec.maxReplicas === "number" ? spec.maxReplicas : 0;
  if (min !== undefined && min < 1)
    errors.push({
      field: "spec.minReplicas",
      type: "FieldValueInvalid",
      value: renderValue(min),
      detail: "must be greater than or equal to 1",
    });
  if (max < 1)
    errors.push({
      field: "spec.maxReplicas",
      type: "FieldValueInvalid",
      value: renderValue(max),
      detail: "must be greater than 0",
    });
  if (min !== undefined && max < min)
    errors.push({
      field: "spec.maxReplicas",
      type: "FieldValueInvalid",
      value: renderValue(max),
      detail: "must be greater than or equal to `minReplicas`",
    });
  const ref = isObj(spec.scaleTargetRef) ? spec.scaleTargetRef : {};
  for (const key of ["kind", "name"])
    if (!ref[key]) errors.push({ field: `spec.scaleTargetRef.${key}`, type: "FieldValueRequired" });
  return errors;
}

const WORKLOAD = ["all"];

/** The compiled-in kinds the emulator serves from the start. */
export function builtinResources(): ResourceType[] {
  return [
    builtin({
      kind: "Namespace",
      plural: "namespaces",
      shortNames: ["ns"],
      namespaced: false,
      schema: schemas.NAMESPACE,
      status: true,
      fieldSelectors: ["status.phase"],
      returnDeletedObject: true,
      strategy: namespaceStrategy,
    }),
    builtin({
      kind: "Service",
      plural: "services",
      shortNames: ["svc"],
      categories: WORKLOAD,
      schema: schemas.SERVICE,
      status: true,
      fieldSelectors: ["spec.clusterIP", "spec.type"],
      returnDeletedObject: true,
      strategy: serviceStrategy(),
    }),
    builtin({
      kind: "Pod",
      plural: "pods",
      shortNames: ["po"],
      categories: WORKLOAD,
      schema: schemas.POD,
      status: true,
      fieldSelectors: [
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
      ],
      returnDeletedObject: true,
      strategy: {
        prepareForCreate(obj) {
          defaultPodSpec(obj.spec);
          obj.status = { phase: "Pending", qosClass: "BestEffort" };
        },
        validate(obj) {
          const spec = isObj(obj.spec) ? obj.spec : {};
          return Array.isArray(spec.containers) && spec.containers.length > 0
            ? []
            : [{ field: "spec.containers", type: "FieldValueRequired" }];
        },
      },
    }),
    builtin({ kind: "ConfigMap", plural: "configmaps", shortNames: ["cm"], schema: schemas.CONFIG_MAP }),
    builtin({
      kind: "Secret",
      plural: "secrets",
      schema: schemas.SECRET,
      fieldSelectors: ["type"],
      strategy: { prepareForCreate: secretData, prepareForUpdate: secretData },
    }),
    builtin({
      kind: "ServiceAccount",
      plural: "serviceaccounts",
      shortNames: ["sa"],
      schema: schemas.SERVICE_ACCOUNT,
    }),
    builtin({
      kind: "Event",
      plural: "events",
      shortNames: ["ev"],
      schema: schemas.CORE_EVENT,
      allowCreateOnUpdate: true,
      fieldSelectors: [
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
      ],
    }),
    builtin({
      group: "events.k8s.io",
      kind: "Event",
      plural: "events",
      shortNames: ["ev"],
      schema: schemas.EVENTS_V1_EVENT,
      allowCreateOnUpdate: true,
      storageKey: "/events",
      storageVersion: "v1",
      conversion: eventsV1Conversion,
      fieldSelectors: [
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
      ],
    }),
    builtin({
      group: "apps",
      kind: "Deployment",
      plural: "deployments",
      shortNames: ["deploy"],
      categories: WORKLOAD,
      schema: schemas.DEPLOYMENT,
      status: true,
      generation: true,
      scale: {
        specReplicasPath: ".spec.replicas",
        statusReplicasPath: ".status.replicas",
        labelSelectorPath: ".status.selector",
      },
      strategy: {
        prepareForCreate: defaultDeployment,
        prepareForUpdate: defaultDeployment,
        validate: validateWorkload,
      },
    }),
    builtin({
      group: "apps",
      kind: "ReplicaSet",
      plural: "replicasets",
      shortNames: ["rs"],
      categories: WORKLOAD,
      schema: schemas.REPLICA_SET,
      status: true,
      generation: true,
      fieldSelectors: ["status.replicas"],
      scale: {
        specReplicasPath: ".spec.replicas",
        statusReplicasPath: ".status.replicas",
        labelSelectorPath: ".status.selector",
      },
      strategy: {
        prepareForCreate: defaultWorkload,
        prepareForUpdate: defaultWorkload,
        validate: validateWorkload,
      },
    }),
    builtin({
      group: "coordination.k8s.io",
      kind: "Lease",
      plural: "leases",
      schema: schemas.LEASE,
      allowCreateOnUpdate: true,
    }),
    builtin({ group: RBAC_GROUP, kind: "Role", plural: "roles", schema: schemas.ROLE }),
    builtin({
      group: RBAC_GROUP,
      kind: "ClusterRole",
      plural: "clusterroles",
      namespaced: false,
      schema: schemas.CLUSTER_ROLE,
    }),
    builtin({
      group: RBAC_GROUP,
      kind: "RoleBinding",
      plural: "rolebindings",
      schema: schemas.ROLE_BINDING,
      strategy: { validate: validateBinding(["Role", "ClusterRole"]) },
    }),
    builtin({
      group: RBAC_GROUP,
      kind: "ClusterRoleBinding",
      plural: "clusterrolebindings",
      namespaced: false,
      schema: schemas.ROLE_BINDING,
      strategy: { validate: validateBinding(["ClusterRole"]) },
    }),
    builtin({
      group: "policy",
      kind: "PodDisruptionBudget",
      plural: "poddisruptionbudgets",
      shortNames: ["pdb"],
      schema: schemas.POD_DISRUPTION_BUDGET,
      status: true,
      generation: true,
      strategy: podDisruptionBudgetStrategy,
    }),
    builtin({
      group: "autoscaling",
      version: "v2",
      kind: "HorizontalPodAutoscaler",
      plural: "horizontalpodautoscalers",
      shortNames: ["hpa"],
      categories: WORKLOAD,
      schema: schemas.HORIZONTAL_POD_AUTOSCALER,
      status: true,
      generation: true,
      strategy: {
        prepareForCreate: defaultHorizontalPodAutoscaler,
        prepareForUpdate: defaultHorizontalPodAutoscaler,
        validate: validateHorizontalPodAutoscaler,
      },
    }),
    builtin({
      group: "apiextensions.k8s.io",
      kind: "CustomResourceDefinition",
      plural: "customresourcedefinitions",
      shortNames: ["crd", "crds"],
      categories: ["api-extensions"],
      namespaced: false,
      schema: schemas.CUSTOM_RESOURCE_DEFINITION,
      status: true,
      generation: true,
      strategy: crdStrategy,
    }),
  ];
}
