import type { Schema } from "../schema.ts";

// Compact structural schemas for the compiled-in kinds. They are deep where clients and tests look
// (list keys for apply and strategic merge, defaults, field validation) and open
// (x-kubernetes-preserve-unknown-fields) below that, so unmodelled fields survive.

const str: Schema = { type: "string" };
const int: Schema = { type: "integer", format: "int32" };
const bool: Schema = { type: "boolean" };
const time: Schema = { type: "string", format: "date-time" };
const intOrString: Schema = { "x-kubernetes-int-or-string": true };
const stringMap: Schema = { type: "object", additionalProperties: str };
const open: Schema = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
const anyList: Schema = { type: "array", items: open };

function object(properties: Record<string, Schema>, extra: Partial<Schema> = {}): Schema {
  return { type: "object", properties, ...extra };
}

function openObject(properties: Record<string, Schema>): Schema {
  return object(properties, { "x-kubernetes-preserve-unknown-fields": true });
}

function keyedList(items: Schema, ...keys: string[]): Schema {
  return {
    type: "array",
    items,
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": keys,
    "x-kubernetes-patch-merge-key": keys[0],
    "x-kubernetes-patch-strategy": "merge",
  };
}

export const OBJECT_META: Schema = object({
  name: str,
  generateName: str,
  namespace: str,
  uid: str,
  resourceVersion: str,
  generation: { type: "integer", format: "int64" },
  creationTimestamp: time,
  deletionTimestamp: time,
  deletionGracePeriodSeconds: { type: "integer", format: "int64" },
  labels: stringMap,
  annotations: stringMap,
  finalizers: {
    type: "array",
    items: str,
    "x-kubernetes-list-type": "set",
    "x-kubernetes-patch-strategy": "merge",
  },
  ownerReferences: keyedList(
    object(
      { apiVersion: str, kind: str, name: str, uid: str, controller: bool, blockOwnerDeletion: bool },
      { required: ["apiVersion", "kind", "name", "uid"] },
    ),
    "uid",
  ),
  managedFields: anyList,
});

export const CONDITIONS: Schema = keyedList(
  openObject({
    type: str,
    status: str,
    reason: str,
    message: str,
    lastTransitionTime: time,
    lastUpdateTime: time,
    observedGeneration: { type: "integer", format: "int64" },
  }),
  "type",
);

const CONTAINER_PORT = object(
  { name: str, containerPort: int, protocol: { type: "string", default: "TCP" }, hostPort: int, hostIP: str },
  { required: ["containerPort"] },
);

const CONTAINER = openObject({
  name: str,
  image: str,
  imagePullPolicy: { type: "string", enum: ["Always", "IfNotPresent", "Never"] },
  command: { type: "array", items: str },
  args: { type: "array", items: str },
  workingDir: str,
  ports: keyedList(CONTAINER_PORT, "containerPort", "protocol"),
  env: keyedList(openObject({ name: str, value: str, valueFrom: open }), "name"),
  envFrom: anyList,
  resources: object(
    {
      limits: { type: "object", additionalProperties: intOrString },
      requests: { type: "object", additionalProperties: intOrString },
    },
    { "x-kubernetes-preserve-unknown-fields": true },
  ),
  volumeMounts: keyedList(
    openObject({ name: str, mountPath: str, readOnly: bool, subPath: str }),
    "mountPath",
  ),
  livenessProbe: open,
  readinessProbe: open,
  startupProbe: open,
  securityContext: open,
  terminationMessagePath: { type: "string", default: "/dev/termination-log" },
  terminationMessagePolicy: { type: "string", default: "File" },
});

export const POD_SPEC: Schema = openObject({
  containers: keyedList(CONTAINER, "name"),
  initContainers: keyedList(CONTAINER, "name"),
  volumes: keyedList(openObject({ name: str }), "name"),
  restartPolicy: { type: "string", default: "Always", enum: ["Always", "OnFailure", "Never"] },
  terminationGracePeriodSeconds: { type: "integer", format: "int64", default: 30 },
  dnsPolicy: { type: "string", default: "ClusterFirst" },
  schedulerName: { type: "string", default: "default-scheduler" },
  securityContext: { ...open, default: {} },
  serviceAccountName: str,
  nodeName: str,
  nodeSelector: stringMap,
  imagePullSecrets: keyedList(object({ name: str }), "name"),
  tolerations: anyList,
  affinity: open,
});

const LABEL_SELECTOR: Schema = object(
  {
    matchLabels: stringMap,
    matchExpressions: {
      type: "array",
      items: object({ key: str, operator: str, values: { type: "array", items: str } }),
    },
  },
  { "x-kubernetes-map-type": "atomic" },
);

const POD_TEMPLATE: Schema = object({ metadata: open, spec: POD_SPEC });

function kindSchema(
  spec: Schema | undefined,
  status: Schema | undefined,
  extra: Record<string, Schema> = {},
): Schema {
  const properties: Record<string, Schema> = { apiVersion: str, kind: str, metadata: OBJECT_META, ...extra };
  if (spec) properties.spec = spec;
  if (status) properties.status = status;
  return object(properties);
}

export const DEPLOYMENT = kindSchema(
  object({
    replicas: { ...int, default: 1 },
    selector: LABEL_SELECTOR,
    template: POD_TEMPLATE,
    strategy: object({
      type: { type: "string", enum: ["RollingUpdate", "Recreate"] },
      rollingUpdate: object({ maxUnavailable: intOrString, maxSurge: intOrString }),
    }),
    minReadySeconds: int,
    revisionHistoryLimit: { ...int, default: 10 },
    paused: bool,
    progressDeadlineSeconds: { ...int, default: 600 },
  }),
  openObject({
    observedGeneration: { type: "integer", format: "int64" },
    replicas: int,
    updatedReplicas: int,
    readyReplicas: int,
    availableReplicas: int,
    unavailableReplicas: int,
    conditions: CONDITIONS,
  }),
);

export const REPLICA_SET = kindSchema(
  object({
    replicas: { ...int, default: 1 },
    minReadySeconds: int,
    selector: LABEL_SELECTOR,
    template: POD_TEMPLATE,
  }),
  openObject({
    replicas: int,
    readyReplicas: int,
    availableReplicas: int,
    observedGeneration: int,
    conditions: CONDITIONS,
  }),
);

export const POD = kindSchema(
  POD_SPEC,
  openObject({ phase: str, conditions: CONDITIONS, podIP: str, hostIP: str, startTime: time }),
);

const SERVICE_PORT = object(
  {
    name: str,
    protocol: { type: "string", default: "TCP" },
    port: int,
    targetPort: intOrString,
    nodePort: int,
    appProtocol: str,
  },
  { required: ["port"] },
);

export const SERVICE = kindSchema(
  openObject({
    type: {
      type: "string",
      default: "ClusterIP",
      enum: ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
    },
    selector: { ...stringMap, "x-kubernetes-map-type": "atomic" },
    ports: keyedList(SERVICE_PORT, "port", "protocol"),
    clusterIP: str,
    clusterIPs: { type: "array", items: str, "x-kubernetes-list-type": "atomic" },
    sessionAffinity: { type: "string", default: "None" },
    externalName: str,
    externalTrafficPolicy: str,
    internalTrafficPolicy: str,
    ipFamilies: { type: "array", items: str },
    ipFamilyPolicy: str,
  }),
  openObject({ loadBalancer: open, conditions: CONDITIONS }),
);

export const NAMESPACE = kindSchema(
  object({ finalizers: { type: "array", items: str } }),
  openObject({ phase: str, conditions: CONDITIONS }),
);

export const CONFIG_MAP = kindSchema(undefined, undefined, {
  data: stringMap,
  binaryData: stringMap,
  immutable: bool,
});

export const SECRET = kindSchema(undefined, undefined, {
  data: stringMap,
  stringData: stringMap,
  type: str,
  immutable: bool,
});

export const SERVICE_ACCOUNT = kindSchema(undefined, undefined, {
  secrets: keyedList(openObject({ name: str, namespace: str, kind: str }), "name"),
  imagePullSecrets: { type: "array", items: object({ name: str }) },
  automountServiceAccountToken: bool,
});

// RBAC's lists are atomic: an apply replaces a role's rules and a binding's subjects whole.
const strings: Schema = { type: "array", items: str };
const POLICY_RULES: Schema = {
  type: "array",
  items: object(
    {
      verbs: strings,
      apiGroups: strings,
      resources: strings,
      resourceNames: strings,
      nonResourceURLs: strings,
    },
    { required: ["verbs"] },
  ),
};

export const ROLE = kindSchema(undefined, undefined, { rules: POLICY_RULES });

export const CLUSTER_ROLE = kindSchema(undefined, undefined, {
  rules: POLICY_RULES,
  aggregationRule: object({ clusterRoleSelectors: { type: "array", items: LABEL_SELECTOR } }),
});

export const ROLE_BINDING = kindSchema(undefined, undefined, {
  subjects: {
    type: "array",
    items: object({ kind: str, apiGroup: str, name: str, namespace: str }, { required: ["kind", "name"] }),
  },
  roleRef: object({ apiGroup: str, kind: str, name: str }, { required: ["apiGroup", "kind", "name"] }),
});

export const POD_DISRUPTION_BUDGET = kindSchema(
  object({
    minAvailable: intOrString,
    maxUnavailable: intOrString,
    selector: LABEL_SELECTOR,
    unhealthyPodEvictionPolicy: { type: "string", enum: ["IfHealthyBudget", "AlwaysAllow"] },
  }),
  openObject({
    observedGeneration: { type: "integer", format: "int64" },
    disruptedPods: { type: "object", additionalProperties: time },
    disruptionsAllowed: int,
    currentHealthy: int,
    desiredHealthy: int,
    expectedPods: int,
    conditions: CONDITIONS,
  }),
);

const CROSS_VERSION_OBJECT_REFERENCE = object({ apiVersion: str, kind: str, name: str });
const HPA_SCALING_RULES = openObject({
  stabilizationWindowSeconds: int,
  selectPolicy: { type: "string", enum: ["Max", "Min", "Disabled"] },
  policies: {
    type: "array",
    "x-kubernetes-list-type": "atomic",
    items: object({ type: { type: "string", enum: ["Pods", "Percent"] }, value: int, periodSeconds: int }),
  },
});

/** autoscaling/v2 HorizontalPodAutoscaler; metric sources stay open (Resource, Pods, Object, External, ContainerResource). */
export const HORIZONTAL_POD_AUTOSCALER = kindSchema(
  object({
    scaleTargetRef: CROSS_VERSION_OBJECT_REFERENCE,
    minReplicas: int,
    maxReplicas: int,
    metrics: { type: "array", "x-kubernetes-list-type": "atomic", items: openObject({ type: str }) },
    behavior: object({ scaleUp: HPA_SCALING_RULES, scaleDown: HPA_SCALING_RULES }),
  }),
  openObject({
    observedGeneration: { type: "integer", format: "int64" },
    lastScaleTime: time,
    currentReplicas: int,
    desiredReplicas: int,
    currentMetrics: { type: "array", "x-kubernetes-list-type": "atomic", items: open },
    conditions: CONDITIONS,
  }),
);

const OBJECT_REFERENCE = openObject({
  apiVersion: str,
  kind: str,
  name: str,
  namespace: str,
  uid: str,
  fieldPath: str,
  resourceVersion: str,
});

export const CORE_EVENT = kindSchema(undefined, undefined, {
  involvedObject: OBJECT_REFERENCE,
  reason: str,
  message: str,
  source: openObject({ component: str, host: str }),
  firstTimestamp: time,
  lastTimestamp: time,
  count: int,
  type: str,
  eventTime: { type: "string", format: "date-time", nullable: true },
  series: open,
  action: str,
  related: OBJECT_REFERENCE,
  reportingComponent: str,
  reportingInstance: str,
});

export const EVENTS_V1_EVENT = kindSchema(undefined, undefined, {
  eventTime: { type: "string", format: "date-time", nullable: true },
  series: open,
  reportingController: str,
  reportingInstance: str,
  action: str,
  reason: str,
  regarding: OBJECT_REFERENCE,
  related: OBJECT_REFERENCE,
  note: str,
  type: str,
  deprecatedSource: openObject({ component: str, host: str }),
  deprecatedFirstTimestamp: time,
  deprecatedLastTimestamp: time,
  deprecatedCount: int,
});

export const LEASE = kindSchema(
  object({
    holderIdentity: str,
    leaseDurationSeconds: int,
    acquireTime: { type: "string", format: "date-time" },
    renewTime: { type: "string", format: "date-time" },
    leaseTransitions: int,
    strategy: str,
    preferredHolder: str,
  }),
  undefined,
);

export const CUSTOM_RESOURCE_DEFINITION = kindSchema(
  object({
    group: str,
    names: openObject({
      plural: str,
      singular: str,
      kind: str,
      listKind: str,
      shortNames: { type: "array", items: str },
      categories: { type: "array", items: str },
    }),
    scope: { type: "string", enum: ["Namespaced", "Cluster"] },
    versions: keyedList(
      openObject({
        name: str,
        served: bool,
        storage: bool,
        deprecated: bool,
        schema: open,
        subresources: open,
        additionalPrinterColumns: anyList,
      }),
      "name",
    ),
    conversion: open,
    preserveUnknownFields: bool,
  }),
  openObject({ conditions: CONDITIONS, acceptedNames: open, storedVersions: { type: "array", items: str } }),
);
