import { z } from "zod";

export const API_GROUP = "stepwise.dev";
export const API_VERSION = `${API_GROUP}/v1alpha1`;

// Rollout names become Service names with a suffix (`<name>-primary`), so they follow DNS-1035 labels
// and leave room for the longest suffix.
const LONGEST_SUFFIX = "-primary";
export const MAX_ROLLOUT_NAME = 63 - LONGEST_SUFFIX.length;

export const DnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, {
    error:
      "must be lower-case letters, digits and '-', starting with a letter and ending with a letter or digit",
  });

export const DnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: "must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
  });

/** The object metadata a manifest may carry; fields the server sets are kept as they are. */
export function objectMetadata(name: z.ZodString) {
  return z.looseObject({
    name,
    namespace: DnsLabel.optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  });
}

/** Reports when not exactly one of `keys` is set on an object, naming the keys. */
export function exactlyOneOf<T extends Record<string, unknown>>(
  keys: readonly (keyof T & string)[],
  what: string,
) {
  return (value: T, ctx: z.RefinementCtx) => {
    const present = keys.filter((key) => value[key] !== undefined);
    if (present.length === 1) return;
    const names = keys.join(", ");
    ctx.addIssue({
      code: "custom",
      message:
        present.length === 0
          ? `${what} needs exactly one of ${names}`
          : `${what} needs exactly one of ${names}, not ${present.join(" and ")}`,
    });
  };
}

/** The structural-schema form of "exactly one of these fields", for the CRD. */
export function oneOfRequired(keys: readonly string[]) {
  return { oneOf: keys.map((key) => ({ required: [key] })) };
}

export const Percent = z.number().gt(0).max(100);
