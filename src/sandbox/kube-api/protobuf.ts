import { badRequest, unsupportedMediaType } from "./status-errors.ts";
import type { Obj } from "./types.ts";

// kubectl's typed clients (`kubectl create namespace|configmap|secret|service|deployment`) send
// Kubernetes protobuf: the "k8s\0" magic, then a runtime.Unknown envelope around the object. This
// decodes those request bodies for the kinds listed below, from their generated.proto field numbers;
// fields not listed are skipped. Responses stay JSON, which kubectl also accepts.

type Field =
  | "string"
  | "bytes"
  | "int"
  | "count"
  | "bool"
  | "time"
  | "intOrString"
  | "quantity"
  | { message: Fields }
  | { map: "string" | "bytes" | "quantity" };

/**
 * Field number → [JSON name, type, repeated?]. Go writes empty strings, zeros and false for plain
 * fields, which JSON (omitempty) would leave out, so the decoder drops them too; "count" marks the
 * pointer integers (replicas, ...) whose zero is a real value.
 */
type Fields = Record<number, [string, Field, boolean?]>;

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

const OWNER_REFERENCE: Fields = {
  1: ["kind", "string"],
  3: ["name", "string"],
  4: ["uid", "string"],
  5: ["apiVersion", "string"],
  6: ["controller", "bool"],
  7: ["blockOwnerDeletion", "bool"],
};
const OBJECT_META: Fields = {
  1: ["name", "string"],
  2: ["generateName", "string"],
  3: ["namespace", "string"],
  5: ["uid", "string"],
  6: ["resourceVersion", "string"],
  7: ["generation", "int"],
  8: ["creationTimestamp", "time"],
  11: ["labels", { map: "string" }],
  12: ["annotations", { map: "string" }],
  13: ["ownerReferences", { message: OWNER_REFERENCE }, true],
  14: ["finalizers", "string", true],
};
const meta = (body: Fields): Fields => ({ 1: ["metadata", { message: OBJECT_META }], ...body });
const LABEL_SELECTOR: Fields = {
  1: ["matchLabels", { map: "string" }],
  2: [
    "matchExpressions",
    { message: { 1: ["key", "string"], 2: ["operator", "string"], 3: ["values", "string", true] } },
    true,
  ],
};
const CONTAINER: Fields = {
  1: ["name", "string"],
  2: ["image", "string"],
  3: ["command", "string", true],
  4: ["args", "string", true],
  5: ["workingDir", "string"],
  6: [
    "ports",
    {
      message: {
        1: ["name", "string"],
        2: ["hostPort", "int"],
        3: ["containerPort", "int"],
        4: ["protocol", "string"],
        5: ["hostIP", "string"],
      },
    },
    true,
  ],
  7: ["env", { message: { 1: ["name", "string"], 2: ["value", "string"] } }, true],
  8: ["resources", { message: { 1: ["limits", { map: "quantity" }], 2: ["requests", { map: "quantity" }] } }],
  13: ["terminationMessagePath", "string"],
  14: ["imagePullPolicy", "string"],
  20: ["terminationMessagePolicy", "string"],
};
const POD_SPEC: Fields = {
  2: ["containers", { message: CONTAINER }, true],
  3: ["restartPolicy", "string"],
  4: ["terminationGracePeriodSeconds", "count"],
  6: ["dnsPolicy", "string"],
  7: ["nodeSelector", { map: "string" }],
  8: ["serviceAccountName", "string"],
  19: ["schedulerName", "string"],
  20: ["initContainers", { message: CONTAINER }, true],
};
const SERVICE_SPEC: Fields = {
  1: [
    "ports",
    {
      message: {
        1: ["name", "string"],
        2: ["protocol", "string"],
        3: ["port", "int"],
        4: ["targetPort", "intOrString"],
        5: ["nodePort", "int"],
        6: ["appProtocol", "string"],
      },
    },
    true,
  ],
  2: ["selector", { map: "string" }],
  3: ["clusterIP", "string"],
  4: ["type", "string"],
  5: ["externalIPs", "string", true],
  7: ["sessionAffinity", "string"],
  10: ["externalName", "string"],
  11: ["externalTrafficPolicy", "string"],
  17: ["ipFamilyPolicy", "string"],
  18: ["clusterIPs", "string", true],
  19: ["ipFamilies", "string", true],
  22: ["internalTrafficPolicy", "string"],
};
const DEPLOYMENT_SPEC: Fields = {
  1: ["replicas", "count"],
  2: ["selector", { message: LABEL_SELECTOR }],
  3: ["template", { message: meta({ 2: ["spec", { message: POD_SPEC }] }) }],
  4: [
    "strategy",
    {
      message: {
        1: ["type", "string"],
        2: [
          "rollingUpdate",
          { message: { 1: ["maxUnavailable", "intOrString"], 2: ["maxSurge", "intOrString"] } },
        ],
      },
    },
  ],
  5: ["minReadySeconds", "int"],
  6: ["revisionHistoryLimit", "count"],
  7: ["paused", "bool"],
  9: ["progressDeadlineSeconds", "count"],
};

const KINDS: Record<string, Fields> = {
  "v1/Namespace": meta({ 2: ["spec", { message: { 1: ["finalizers", "string", true] } }] }),
  "v1/ConfigMap": meta({
    2: ["data", { map: "string" }],
    3: ["binaryData", { map: "bytes" }],
    4: ["immutable", "bool"],
  }),
  "v1/Secret": meta({
    2: ["data", { map: "bytes" }],
    3: ["type", "string"],
    4: ["stringData", { map: "string" }],
    5: ["immutable", "bool"],
  }),
  "v1/Service": meta({ 2: ["spec", { message: SERVICE_SPEC }] }),
  "apps/v1/Deployment": meta({ 2: ["spec", { message: DEPLOYMENT_SPEC }] }),
};

export const PROTOBUF = "application/vnd.kubernetes.protobuf";

/** A minimal protobuf wire reader: varints and length-delimited fields are all these messages use. */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw badRequest("protobuf: truncated varint");
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  }

  bytes(): Buffer {
    const length = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw badRequest(`protobuf: unsupported wire type ${wireType}`);
  }
}

function signed(value: bigint): number {
  return Number(BigInt.asIntN(64, value));
}

function decodeMessage(buf: Buffer, fields: Fields): Obj {
  const reader = new Reader(buf);
  const out: Obj = {};
  while (!reader.done()) {
    const tag = Number(reader.varint());
    const spec = fields[tag >> 3];
    if (!spec) {
      reader.skip(tag & 7);
      continue;
    }
    const [name, type, repeated] = spec;
    if (typeof type === "object" && "map" in type) {
      const entry = decodeMessage(reader.bytes(), { 1: ["key", "string"], 2: ["value", type.map] });
      const map = (out[name] ?? {}) as Obj;
      map[String(entry.key ?? "")] = entry.value ?? "";
      out[name] = map;
      continue;
    }
    const value = decodeValue(reader, type);
    if (value === undefined || value === "" || value === false || (value === 0 && type === "int")) continue;
    if (repeated) out[name] = [...((out[name] as unknown[] | undefined) ?? []), value];
    else out[name] = value;
  }
  return out;
}

function decodeValue(reader: Reader, type: Field): unknown {
  switch (type) {
    case "string":
      return reader.bytes().toString("utf8");
    case "bytes":
      return reader.bytes().toString("base64");
    case "int":
    case "count":
      return signed(reader.varint());
    case "bool":
      return reader.varint() !== 0n;
    case "time": {
      const time = decodeMessage(reader.bytes(), { 1: ["seconds", "int"] });
      return typeof time.seconds === "number"
        ? new Date(time.seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z")
        : undefined;
    }
    case "quantity":
      return decodeMessage(reader.bytes(), { 1: ["string", "string"] }).string;
    case "intOrString": {
      const v = decodeMessage(reader.bytes(), {
        1: ["type", "int"],
        2: ["intVal", "int"],
        3: ["strVal", "string"],
      });
      return v.type === 1 ? (v.strVal ?? "") : (v.intVal ?? 0);
    }
    default:
      return decodeMessage(reader.bytes(), (type as { message: Fields }).message);
  }
}

/** Decodes a protobuf request body into the JSON object it stands for. */
export function decodeProtobufBody(body: Buffer): Obj {
  if (!body.subarray(0, 4).equals(MAGIC))
    throw badRequest("protobuf: the body does not start with the k8s\\0 prefix");
  const envelope = decodeMessage(body.subarray(4), {
    1: ["typeMeta", { message: { 1: ["apiVersion", "string"], 2: ["kind", "string"] } }],
    2: ["raw", "bytes"],
  });
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const fields = KINDS[`${typeMeta.apiVersion}/${typeMeta.kind}`];
  if (!fields) throw unsupportedMediaType(["application/json", "application/yaml"]);
  const obj = decodeMessage(Buffer.from(String(envelope.raw ?? ""), "base64"), fields);
  return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...obj };
}
