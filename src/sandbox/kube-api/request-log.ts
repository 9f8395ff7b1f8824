import type { Verb } from "./types.ts";

/** One request as the emulator saw it, to pin the exact API traffic of a component. */
export interface RequestLogEntry {
  time: string;
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** "" for non-resource requests (discovery, OpenAPI, /version). */
  verb: Verb | "";
  group: string;
  version: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  userAgent: string;
  status: number;
  /** The request's Content-Type (tells merge, JSON, strategic and apply patches apart). */
  contentType?: string;
  /** The response's Content-Type (tells Table from plain JSON). */
  responseContentType?: string;
  durationMs: number;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];

  constructor(private readonly limit: number) {}

  record(entry: RequestLogEntry): void {
    this.entries.push(entry);
    // trim in batches so a full log does not shift the whole array on every request
    if (this.entries.length > this.limit * 1.25) this.entries.splice(0, this.entries.length - this.limit);
  }

  /** Entries oldest first, optionally only those whose fields equal every given value. */
  all(filter: Partial<Omit<RequestLogEntry, "query">> = {}): RequestLogEntry[] {
    const wanted = Object.entries(filter);
    return this.entries.filter((e) => wanted.every(([k, v]) => e[k as keyof RequestLogEntry] === v));
  }

  clear(): void {
    this.entries = [];
  }
}
