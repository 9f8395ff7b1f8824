import { stringify } from "yaml";
import { z } from "zod";
import { API_GROUP } from "./common.ts";
import { Rollout } from "./rollout.ts";
import { SLOProfile } from "./slo-profile.ts";

type Schema = Record<string, unknown>;

/** Rewrites a JSON Schema node as a structural schema, the subset apiextensions.k8s.io/v1 accepts. */
function structural(node: Schema): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case "$schema":
      case "propertyNames":
        break; // not part of structural schemas; key rules live in the zod schema
      case "properties":
        out.properties = Object.fromEntries(
          Object.entries(value as Record<string, Schema>).map(([name, child]) => [name, structural(child)]),
        );
        break;
      case "items":
        out.items = structural(value as Schema);
        break;
      case "additionalProperties":
        if (typeof value === "object" && value !== null && Object.keys(value).length > 0) {
          out.additionalProperties = structural(value as Schema);
        }
        break;
      case "const":
        out.enum = [value];
        break;
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        // draft 2020-12 numbers become OpenAPI v3.0 booleans beside minimum/maximum
        out[key === "exclusiveMinimum" ? "minimum" : "maximum"] = value;
        out[key] = true;
        break;
      case "anyOf":
        Object.assign(out, mixedType((value as Schema[]).map((option) => option.type)));
        break;
      case "type":
        if (Array.isArray(value)) Object.assign(out, mixedType(value));
        else out.type = value;
        break;
      case "minimum":
      case "maximum":
        // zod bounds every integer by the safe-integer range; Kubernetes has its own int64 bounds
        if (Math.abs(value as number) !== Number.MAX_SAFE_INTEGER) out[key] = value;
        break;
      default:
        out[key] = value;
    }
  }
  if (out.format === "date-time") delete out.pattern; // zod's pattern uses look-arounds RE2 lacks
  const looseObject =
    out.type === "object" && typeof node.additionalProperties === "object" && !out.additionalProperties;
  if (looseObject) {
    out["x-kubernetes-preserve-unknown-fields"] = true;
    if (Object.keys((out.properties as object | undefined) ?? {}).length === 0) delete out.properties;
  }
  return out;
}

/** A union of scalar types: int-or-string when that is what it is, any value otherwise. */
function mixedType(types: unknown[]): Schema {
  types.sort();
  if (types.join() === "integer,string") return { "x-kubernetes-int-or-string": true };
  return { "x-kubernetes-preserve-unknown-fields": true };
}

function objectSchema(schema: z.ZodType): Schema {
  const json = structural(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Schema);
  const properties = json.properties as Record<string, Schema>;
  properties.metadata = { type: "object" }; // the API server owns metadata's schema
  return json;
}

interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "date";
  jsonPath: string;
  description?: string;
}

interface CrdInput {
  kind: string;
  plural: string;
  shortNames: string[];
  schema: z.ZodType;
  columns: PrinterColumn[];
  statusSubresource: boolean;
}

function crd(input: CrdInput) {
  const singular = input.kind.toLowerCase();
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${input.plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular,
        shortNames: input.shortNames,
        categories: ["stepwise"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: "v1alpha1",
          served: true,
          storage: true,
          ...(input.statusSubresource ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: [
            ...input.columns,
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: { openAPIV3Schema: objectSchema(input.schema) },
        },
      ],
    },
  };
}

/** The CustomResourceDefinitions of Stepwise's API, by the file name they are kept under in manifests/crds. */
export function stepwiseCrds() {
  return {
    "rollouts.stepwise.dev.yaml": crd({
      kind: "Rollout",
      plural: "rollouts",
      shortNames: ["sro"],
      schema: Rollout,
      statusSubresource: true,
      columns: [
        { name: "Phase", type: "string", jsonPath: ".status.phase" },
        { name: "Step", type: "integer", jsonPath: ".status.step", description: "Index of the current step" },
        {
          name: "Weight",
          type: "number",
          jsonPath: ".status.weights.applied",
          description: "Canary traffic share",
        },
        {
          // Ready turns False with the reason of a refusal (src/engine/conditions.ts withHold) or Failed
          name: "Reason",
          type: "string",
          jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
          description: "Ready's reason: why the controller refuses to go on, when it does",
        },
      ],
    }),
    "sloprofiles.stepwise.dev.yaml": crd({
      kind: "SLOProfile",
      plural: "sloprofiles",
      shortNames: ["slo"],
      schema: SLOProfile,
      statusSubresource: false,
      columns: [
        { name: "Compare", type: "string", jsonPath: ".spec.gate.compare" },
        { name: "Tolerance", type: "number", jsonPath: ".spec.gate.tolerance" },
      ],
    }),
  };
}
const HEADER = "# Generated from src/api by `npm run gen:crds`; edit the zod schemas, not this file.\n";

/** The CRD files' exact text, as checked in under manifests/crds. */
export function renderCrdFiles(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(stepwiseCrds()).map(([name, object]) => [
      name,
      HEADER + stringify(object, { lineWidth: 0 }),
    ]),
  );
}
