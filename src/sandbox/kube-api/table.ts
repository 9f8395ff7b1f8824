import { asRecord } from "./json.ts";
import type { PrinterColumn, ResourceType } from "./resources/registry.ts";
import { isObj, type KubeObject, type Obj } from "./types.ts";

/** `includeObject` of a Table request: what each row carries besides its cells. */
export type IncludeObject = "None" | "Metadata" | "Object";

/** True when the Accept header asks for a meta.k8s.io Table (as kubectl get does for human output). */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => /as=Table/.test(part) && /g=meta\.k8s\.io/.test(part));
}

export const TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io";

/** apimachinery's duration.HumanDuration, the "AGE" text. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 192) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    return days === 0 ? `${years}y` : `${years}y${days}d`;
  }
  return `${years}y`;
}

function age(timestamp: unknown): string {
  if (typeof timestamp !== "string") return "<unknown>";
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? "<invalid>" : humanDuration(Date.now() - at);
}

/** The simple JSONPath subset printer columns use: `.a.b`, `[0]`, `[*]`, `['x']` and `[?(@.k=="v")]`. */
export function evalJsonPath(obj: unknown, path: string): unknown[] {
  let current: unknown[] = [obj];
  const tokens = path.replace(/^\{|\}$/g, "").match(/\.[^.[]+|\[[^\]]*\]/g) ?? [];
  for (const token of tokens) {
    const next: unknown[] = [];
    for (const node of current) {
      if (token.startsWith(".")) {
        if (isObj(node) && node[token.slice(1)] !== undefined) next.push(node[token.slice(1)]);
        continue;
      }
      const inner = token.slice(1, -1);
      const filter = /^\?\(@\.([\w.-]+)\s*==\s*["']?([^"']*)["']?\)$/.exec(inner);
      if (Array.isArray(node) && inner === "*") next.push(...node);
      else if (Array.isArray(node) && /^-?\d+$/.test(inner)) {
        const item = node.at(Number(inner));
        if (item !== undefined) next.push(item);
      } else if (Array.isArray(node) && filter) {
        next.push(...node.filter((item) => isObj(item) && String(item[filter[1]!]) === filter[2]));
      } else if (isObj(node)) {
        const key = inner.replace(/^['"]|['"]$/g, "");
        if (node[key] !== undefined) next.push(node[key]);
      }
    }
    current = next;
  }
  return current;
}

/** A printer column cell typed the way the CRD table convertor does it. */
function cellFor(column: PrinterColumn, obj: KubeObject): unknown {
  const value = evalJsonPath(obj, column.jsonPath)[0];
  if (value === undefined || value === null) return null;
  switch (column.type) {
    case "integer":
      return typeof value === "number" ? Math.trunc(value) : null;
    case "number":
      return typeof value === "number" ? value : null;
    case "boolean":
      return typeof value === "boolean" ? value : null;
    case "date":
      return typeof value === "string" ? age(value) : null;
    default:
      return typeof value === "string" ? value : JSON.stringify(value);
  }
}

interface BuiltinColumn {
  name: string;
  type?: string;
  priority?: number;
  cell: (obj: KubeObject) => unknown;
}

const spec = (o: KubeObject) => asRecord(o.spec);
const status = (o: KubeObject) => asRecord(o.status);
const num = (v: unknown) => (typeof v === "number" ? v : 0);
const AGE: BuiltinColumn = { name: "Age", cell: (o) => age(o.metadata.creationTimestamp) };
const podContainers = (podSpec: Obj) =>
  Array.isArray(podSpec.containers) ? podSpec.containers.filter(isObj) : [];

/** One metric of the TARGETS cell, as the printer's formatHPAMetrics writes it. */
function hpaMetric(metric: Obj, status: Obj): string {
  const quantity = (v: unknown) => (v === undefined ? "<unknown>" : String(v));
  const percent = (v: unknown) => (typeof v === "number" ? `${v}%` : undefined);
  switch (metric.type) {
    case "External":
    case "Object": {
      const key = metric.type === "External" ? "external" : "object";
      const target = asRecord(asRecord(metric[key]).target);
      const current = asRecord(asRecord(status[key]).current);
      if (target.averageValue !== undefined)
        return `${quantity(current.averageValue)}/${target.averageValue} (avg)`;
      return `${quantity(current.value)}/${target.value}`;
    }
    case "Pods":
      return `${quantity(asRecord(asRecord(status.pods).current).averageValue)}/${asRecord(asRecord(metric.pods).target).averageValue}`;
    case "Resource":
    case "ContainerResource": {
      const key = metric.type === "Resource" ? "resource" : "containerResource";
      const source = asRecord(metric[key]);
      const target = asRecord(source.target);
      const current = asRecord(asRecord(status[key]).current);
      if (target.averageValue !== undefined)
        return `${source.name}: ${quantity(current.averageValue)}/${target.averageValue}`;
      return `${source.name}: ${percent(current.averageUtilization) ?? "<unknown>"}/${percent(target.averageUtilization) ?? "<auto>"}`;
    }
    default:
      return "<unknown type>";
  }
}

/** The TARGETS cell of `kubectl get hpa`: the first two metrics, then how many more. */
function hpaTargets(hpaSpec: Obj, hpaStatus: Obj): string {
  const metrics = Array.isArray(hpaSpec.metrics) ? hpaSpec.metrics.filter(isObj) : [];
  if (metrics.length === 0) return "<none>";
  const current = Array.isArray(hpaStatus.currentMetrics) ? hpaStatus.currentMetrics : [];
  const cells = metrics.map((metric, i) => hpaMetric(metric, asRecord(current[i])));
  const shown = cells.slice(0, 2).join(", ");
  return cells.length > 2 ? `${shown} + ${cells.length - 2} more...` : shown;
}

const BUILTIN_COLUMNS: Record<string, BuiltinColumn[]> = {
  Namespace: [{ name: "Status", cell: (o) => status(o).phase ?? "" }, AGE],
  Deployment: [
    { name: "Ready", cell: (o) => `${num(status(o).readyReplicas)}/${num(spec(o).replicas)}` },
    { name: "Up-to-date", type: "integer", cell: (o) => num(status(o).updatedReplicas) },
    { name: "Available", type: "integer", cell: (o) => num(status(o).availableReplicas) },
    AGE,
    {
      name: "Containers",
      priority: 1,
      cell: (o) =>
        podContainers(asRecord(asRecord(spec(o).template).spec))
          .map((c) => c.name)
          .join(","),
    },
    {
      name: "Images",
      priority: 1,
      cell: (o) =>
        podContainers(asRecord(asRecord(spec(o).template).spec))
          .map((c) => c.image)
          .join(","),
    },
  ],
  ReplicaSet: [
    { name: "Desired", type: "integer", cell: (o) => num(spec(o).replicas) },
    { name: "Current", type: "integer", cell: (o) => num(status(o).replicas) },
    { name: "Ready", type: "integer", cell: (o) => num(status(o).readyReplicas) },
    AGE,
  ],
  Pod: [
    { name: "Ready", cell: (o) => `0/${podContainers(spec(o)).length}` },
    { name: "Status", cell: (o) => status(o).phase ?? "Unknown" },
    { name: "Restarts", type: "integer", cell: () => 0 },
    AGE,
  ],
  Service: [
    { name: "Type", cell: (o) => spec(o).type ?? "ClusterIP" },
    { name: "Cluster-IP", cell: (o) => spec(o).clusterIP ?? "<none>" },
    { name: "External-IP", cell: () => "<none>" },
    {
      name: "Port(s)",
      cell: (o) =>
        (Array.isArray(spec(o).ports) ? (spec(o).ports as unknown[]).filter(isObj) : [])
          .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`)
          .join(",") || "<none>",
    },
    AGE,
  ],
  ConfigMap: [
    {
      name: "Data",
      type: "integer",
      cell: (o) => Object.keys(asRecord(o.data)).length + Object.keys(asRecord(o.binaryData)).length,
    },
    AGE,
  ],
  Secret: [
    { name: "Type", cell: (o) => o.type ?? "Opaque" },
    { name: "Data", type: "integer", cell: (o) => Object.keys(asRecord(o.data)).length },
    AGE,
  ],
  Lease: [{ name: "Holder", cell: (o) => spec(o).holderIdentity ?? "" }, AGE],
  HorizontalPodAutoscaler: [
    {
      name: "Reference",
      cell: (o) =>
        `${asRecord(spec(o).scaleTargetRef).kind ?? ""}/${asRecord(spec(o).scaleTargetRef).name ?? ""}`,
    },
    { name: "Targets", cell: (o) => hpaTargets(spec(o), status(o)) },
    {
      name: "MinPods",
      cell: (o) => (typeof spec(o).minReplicas === "number" ? spec(o).minReplicas : "<unset>"),
    },
    { name: "MaxPods", type: "integer", cell: (o) => num(spec(o).maxReplicas) },
    { name: "Replicas", type: "integer", cell: (o) => num(status(o).currentReplicas) },
    AGE,
  ],
  CustomResourceDefinition: [
    { name: "Created At", type: "date", cell: (o) => o.metadata.creationTimestamp ?? "" },
  ],
};

interface Column {
  definition: Obj;
  cell: (obj: KubeObject) => unknown;
}

function columnsFor(rt: ResourceType): Column[] {
  const name: Column = {
    definition: {
      name: "Name",
      type: "string",
      format: "name",
      description: "Name must be unique within a namespace.",
      priority: 0,
    },
    cell: (o) => o.metadata.name,
  };
  if (rt.custom) {
    return [
      name,
      ...(rt.printerColumns ?? []).map((c) => ({
        definition: {
          name: c.name,
          type: c.type,
          format: c.format ?? "",
          description: c.description ?? "",
          priority: c.priority ?? 0,
        },
        cell: (o: KubeObject) => cellFor(c, o),
      })),
    ];
  }
  const builtin = BUILTIN_COLUMNS[rt.kind] ?? [AGE];
  return [
    name,
    ...builtin.map((c) => ({
      definition: {
        name: c.name,
        type: c.type ?? "string",
        format: "",
        description: "",
        priority: c.priority ?? 0,
      },
      cell: c.cell,
    })),
  ];
}

function rowObject(obj: KubeObject, include: IncludeObject): Obj | undefined {
  if (include === "None") return undefined;
  if (include === "Object") return obj;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata };
}

/** Renders objects as a meta.k8s.io/v1 Table; watch events after the first leave the column definitions out. */
export function toTable(
  rt: ResourceType,
  items: KubeObject[],
  include: IncludeObject,
  listMeta: Obj,
  withColumns = true,
): Obj {
  const columns = columnsFor(rt);
  const table: Obj = { kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: listMeta };
  if (withColumns) table.columnDefinitions = columns.map((c) => c.definition);
  table.rows = items.map((obj) => {
    const row: Obj = { cells: columns.map((c) => c.cell(obj) ?? null) };
    const object = rowObject(obj, include);
    if (object) row.object = object;
    return row;
  });
  return table;
}
