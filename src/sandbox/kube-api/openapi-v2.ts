import { KUBE_VERSION } from "./discovery.ts";
import type { Obj } from "./types.ts";

// The OpenAPI v2 document at /openapi/v2, as JSON or as the protobuf client-go asks for (gnostic's
// openapi_v2.Document, field numbers from google/gnostic openapiv2/OpenAPIv2.proto). kubectl reads
// it when the v3 documents show no `fieldValidation` support for a kind, which is exactly the case
// of a kind the server does not serve: it validates client-side against v2, finds no definition for
// the kind and lets the request through to the resource mapping, which then fails with kubectl's
// own `no matches for kind "X" in version "G/V"`. Without v2 it fails earlier, with "failed to
// download openapi". Definitions are the v3 component schemas of every group-version, aggregated as
// kube-apiserver aggregates v2; v2 has no oneOf/anyOf/not/nullable, so those are left out as
// kube-apiserver leaves them out. Paths are left empty: kubectl reads v2 paths only when the v3
// documents cannot be fetched at all.

export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/** The Content-Type kube-openapi's handler answers with (its subTypeProtobuf; the "@" form is the deprecated one). */
export const OPENAPI_V2_PROTOBUF_RESPONSE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;

/** Appends protobuf fields; nested messages are encoded first and written as bytes. */
class ProtoWriter {
  private readonly chunks: Buffer[] = [];

  private varint(value: number): void {
    const bytes: number[] = [];
    let v = value;
    while (v > 0x7f) {
      bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    bytes.push(v);
    this.chunks.push(Buffer.from(bytes));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  string(field: number, value: string | undefined): this {
    if (value === undefined || value === "") return this;
    return this.bytes(field, Buffer.from(value, "utf8"));
  }

  bytes(field: number, value: Buffer): this {
    this.tag(field, LENGTH);
    this.varint(value.length);
    this.chunks.push(value);
    return this;
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  int(field: number, value: number | undefined): this {
    if (value === undefined || value === 0) return this;
    this.tag(field, VARINT);
    this.varint(value);
    return this;
  }

  bool(field: number, value: boolean | undefined): this {
    if (!value) return this;
    this.tag(field, VARINT);
    this.varint(1);
    return this;
  }

  double(field: number, value: number | undefined): this {
    if (value === undefined) return this;
    this.tag(field, FIXED64);
    const buf = Buffer.alloc(8);
    buf.writeDoubleLE(value);
    this.chunks.push(buf);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** gnostic's Any: a value carried as its YAML text (JSON is YAML). */
function anyValue(value: unknown): ProtoWriter {
  return new ProtoWriter().string(2, JSON.stringify(value));
}

function namedAny(name: string, value: unknown): ProtoWriter {
  return new ProtoWriter().string(1, name).message(2, anyValue(value));
}

/** The JSON-schema keywords OpenAPI v2 has (Swagger 2.0 Schema Object) that the emulator's schemas use. */
const V2_KEYWORDS = new Set([
  "$ref",
  "format",
  "title",
  "description",
  "default",
  "multipleOf",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "uniqueItems",
  "maxProperties",
  "minProperties",
  "required",
  "enum",
  "additionalProperties",
  "type",
  "items",
  "allOf",
  "properties",
]);

/** A v3 component schema in v2 form: refs point at #/definitions, keywords v2 lacks are dropped. */
export function toV2Schema(s: Obj): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(s)) {
    if (!V2_KEYWORDS.has(key) && !key.startsWith("x-")) continue;
    if (key === "$ref") out[key] = String(value).replace("#/components/schemas/", "#/definitions/");
    else if (key === "items" || (key === "additionalProperties" && typeof value === "object"))
      out[key] = toV2Schema(value as Obj);
    else if (key === "allOf") out[key] = (value as Obj[]).map(toV2Schema);
    else if (key === "properties")
      out[key] = Object.fromEntries(Object.entries(value as Obj).map(([k, v]) => [k, toV2Schema(v as Obj)]));
    else out[key] = value;
  }
  return out;
}

/** A v2 schema as gnostic's openapi_v2.Schema. */
function schema(s: Obj): ProtoWriter {
  const w = new ProtoWriter()
    .string(1, s.$ref as string | undefined)
    .string(2, s.format as string | undefined)
    .string(3, s.title as string | undefined)
    .string(4, s.description as string | undefined);
  if (s.default !== undefined) w.message(5, anyValue(s.default));
  w.double(6, s.multipleOf as number | undefined)
    .double(7, s.maximum as number | undefined)
    .bool(8, s.exclusiveMaximum as boolean | undefined)
    .double(9, s.minimum as number | undefined)
    .bool(10, s.exclusiveMinimum as boolean | undefined)
    .int(11, s.maxLength as number | undefined)
    .int(12, s.minLength as number | undefined)
    .string(13, s.pattern as string | undefined)
    .int(14, s.maxItems as number | undefined)
    .int(15, s.minItems as number | undefined)
    .bool(16, s.uniqueItems as boolean | undefined)
    .int(17, s.maxProperties as number | undefined)
    .int(18, s.minProperties as number | undefined);
  for (const name of (s.required as string[] | undefined) ?? []) w.string(19, name);
  for (const value of (s.enum as unknown[] | undefined) ?? []) w.message(20, anyValue(value));
  const additional = s.additionalProperties;
  if (typeof additional === "boolean") w.message(21, new ProtoWriter().bool(2, additional));
  else if (additional && typeof additional === "object")
    w.message(21, new ProtoWriter().message(1, schema(additional as Obj)));
  if (typeof s.type === "string") w.message(22, new ProtoWriter().string(1, s.type));
  if (s.items && typeof s.items === "object")
    w.message(23, new ProtoWriter().message(1, schema(s.items as Obj)));
  for (const part of (s.allOf as Obj[] | undefined) ?? []) w.message(24, schema(part));
  if (s.properties && typeof s.properties === "object") {
    const props = new ProtoWriter();
    for (const [name, value] of Object.entries(s.properties as Obj))
      props.message(1, new ProtoWriter().string(1, name).message(2, schema(value as Obj)));
    w.message(25, props);
  }
  for (const [name, value] of Object.entries(s))
    if (name.startsWith("x-")) w.message(31, namedAny(name, value));
  return w;
}

/** The v2 document: every group-version's component schemas as definitions, in v2 form. */
export function openApiV2Document(components: Record<string, Obj>): Obj {
  const definitions: Obj = {};
  for (const name of Object.keys(components).sort()) definitions[name] = toV2Schema(components[name]!);
  return {
    swagger: "2.0",
    info: { title: "Kubernetes", version: KUBE_VERSION.gitVersion },
    paths: {},
    definitions,
  };
}

/** The v2 document (from openApiV2Document) as gnostic's openapi_v2.Document. */
export function openApiV2Protobuf(doc: Obj): Buffer {
  const info = doc.info as Obj;
  const defs = new ProtoWriter();
  for (const [name, value] of Object.entries(doc.definitions as Obj))
    defs.message(1, new ProtoWriter().string(1, name).message(2, schema(value as Obj)));
  return new ProtoWriter()
    .string(1, doc.swagger as string)
    .message(2, new ProtoWriter().string(1, info.title as string).string(2, info.version as string))
    .message(8, new ProtoWriter())
    .message(9, defs)
    .finish();
}
