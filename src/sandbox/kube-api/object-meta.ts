import { randomUUID } from "node:crypto";
import { type FieldError, renderValue } from "./status-errors.ts";
import { isObj, type KubeObject } from "./types.ts";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export type NameRule = "subdomain" | "label" | "dns1035";

const NAME_RULES: Record<NameRule, { regex: RegExp; max: number; text: string }> = {
  subdomain: {
    regex: DNS1123_SUBDOMAIN,
    max: 253,
    text: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  },
  label: {
    regex: DNS1123_LABEL,
    max: 63,
    text: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  },
  dns1035: {
    regex: DNS1035_LABEL,
    max: 63,
    text: "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
  },
};

/** Which name rule a kind follows: namespaces are DNS labels, services DNS-1035 labels, the rest subdomains. */
export function nameRuleFor(kind: string): NameRule {
  if (kind === "Namespace") return "label";
  if (kind === "Service") return "dns1035";
  return "subdomain";
}

function validateName(name: string, rule: NameRule, field: string): FieldError[] {
  const spec = NAME_RULES[rule];
  const errors: FieldError[] = [];
  if (name.length > spec.max) {
    errors.push({
      field,
      type: "FieldValueInvalid",
      value: renderValue(name),
      detail: `must be no more than ${spec.max} characters`,
    });
  }
  if (!spec.regex.test(name))
    errors.push({ field, type: "FieldValueInvalid", value: renderValue(name), detail: spec.text });
  return errors;
}

function validateLabels(labels: unknown): FieldError[] {
  if (!isObj(labels)) return [];
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const name = key.includes("/") ? key.slice(key.indexOf("/") + 1) : key;
    if (!QUALIFIED_NAME.test(name) || name.length > 63) {
      errors.push({
        field: "metadata.labels",
        type: "FieldValueInvalid",
        value: renderValue(key),
        detail:
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      });
    }
    if (typeof value !== "string" || !LABEL_VALUE.test(value) || value.length > 63) {
      errors.push({
        field: "metadata.labels",
        type: "FieldValueInvalid",
        value: renderValue(value),
        detail:
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      });
    }
  }
  return errors;
}

export function validateObjectMeta(obj: KubeObject, rule: NameRule, namespaced: boolean): FieldError[] {
  const meta = obj.metadata;
  const errors: FieldError[] = [];
  if (!meta.name)
    errors.push({
      field: "metadata.name",
      type: "FieldValueRequired",
      detail: "name or generateName is required",
    });
  else errors.push(...validateName(meta.name, rule, "metadata.name"));
  if (namespaced && !meta.namespace) errors.push({ field: "metadata.namespace", type: "FieldValueRequired" });
  errors.push(...validateLabels(meta.labels));
  return errors;
}

const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** `generateName` plus five characters from the apiserver's vowel-free alphabet. */
export function generateName(prefix: string): string {
  let suffix = "";
  for (let i = 0; i < 5; i++)
    suffix += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
  return `${prefix.slice(0, 58)}${suffix}`;
}

/** Clears what clients may not set on create; the server owns these fields. */
export function wipeSystemFields(obj: KubeObject): void {
  const meta = obj.metadata;
  for (const key of [
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
  ]) {
    delete meta[key];
  }
}

/** Now, at the second precision Kubernetes timestamps carry. */
export function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

export function newUid(): string {
  return randomUUID();
}
