import { ApiError, type FieldError } from "./status-errors.ts";
import type { KubeObject } from "./types.ts";

// The size limits a real cluster enforces, with the answer each one gives, in the order a write meets them.

/** kube-apiserver's --max-request-bytes default (genericapiserver Config.MaxRequestBodyBytes, 3 MiB). */
export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;
/** apimachinery's TotalAnnotationSizeLimitB: keys plus values, in bytes. */
export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024;
/** etcd's --max-request-bytes default (1.5 MiB); the stored object must fit in one request. */
export const ETCD_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/** What the REST handlers' limitedReadBody answers for a longer body: 413 RequestEntityTooLarge. */
export function requestEntityTooLarge(): ApiError {
  return new ApiError(
    413,
    "RequestEntityTooLarge",
    `Request entity too large: limit is ${MAX_REQUEST_BODY_BYTES}`,
  );
}

/** ValidateAnnotationsSize, reported as field.TooLong on metadata.annotations (422 Invalid). */
export function validateAnnotationsSize(obj: KubeObject): FieldError[] {
  let total = 0;
  for (const [key, value] of Object.entries(obj.metadata.annotations ?? {}))
    total += Buffer.byteLength(key) + Buffer.byteLength(String(value));
  if (total <= TOTAL_ANNOTATION_SIZE_LIMIT_B) return [];
  return [
    {
      field: "metadata.annotations",
      type: "FieldValueTooLong",
      detail: `must have at most ${TOTAL_ANNOTATION_SIZE_LIMIT_B} bytes`,
    },
  ];
}

/**
 * etcd refuses a put larger than its request limit, and kube-apiserver passes the error on as a
 * Status without a reason (500, "etcdserver: request is too large"). The emulator measures the
 * object as JSON, which is what kube-apiserver stores for custom resources.
 */
export function checkStoredSize(obj: KubeObject): void {
  if (Buffer.byteLength(JSON.stringify(obj)) > ETCD_MAX_REQUEST_BYTES)
    throw new ApiError(500, "", "etcdserver: request is too large");
}
