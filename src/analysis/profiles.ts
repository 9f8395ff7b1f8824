/**
 * SLO profiles: the built-in ones in slo-profiles/, users' files, and the rendering of their query templates
 * for one population (canary or baseline) of one mesh.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseDocuments } from "../api/documents.ts";
import { METRIC_PROVIDERS, type MetricProvider, type SLOProfile } from "../api/slo-profile.ts";
import { formatSelector, type LabelMatcher, parseSelector } from "../metrics/selector.ts";
import { PACKAGE_ROOT } from "../package-root.ts";
import type { IndicatorQueries, PopulationQueries } from "./verdict.ts";

/** A profile that cannot be loaded or rendered; the message is one line (or one per problem) for a person. */
export class ProfileError extends Error {
  override name = "ProfileError";
}

export const BUILT_IN_PROFILE_DIR = join(PACKAGE_ROOT, "slo-profiles");

/** Parses every SLOProfile in a YAML text; `source` names it in messages (`file:line: path: message`). */
export function parseProfiles(text: string, source: string): SLOProfile[] {
  const profiles: SLOProfile[] = [];
  const problems: string[] = [];
  for (const document of parseDocuments(text)) {
    for (const error of document.errors)
      problems.push(`${source}:${error.line}: ${error.path}: ${error.message}`);
    if (!document.object) continue;
    if (document.object.kind !== "SLOProfile") {
      problems.push(`${source}:${document.line}: is a ${document.object.kind}, not an SLOProfile`);
      continue;
    }
    profiles.push(document.object);
  }
  if (problems.length > 0) throw new ProfileError(problems.join("\n"));
  if (profiles.length === 0) throw new ProfileError(`${source}: holds no SLOProfile`);
  return profiles;
}

/** Reads the SLOProfiles of one file. */
export async function loadProfileFile(path: string): Promise<SLOProfile[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ProfileError(`${path}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parseProfiles(text, path);
}

/** The profiles shipped in slo-profiles/, by name. */
export async function loadBuiltInProfiles(dir = BUILT_IN_PROFILE_DIR): Promise<Map<string, SLOProfile>> {
  const byName = new Map<string, SLOProfile>();
  const files = (await readdir(dir)).filter((file) => file.endsWith(".yaml")).sort();
  for (const file of files) {
    for (const profile of await loadProfileFile(join(dir, file))) byName.set(profile.metadata.name, profile);
  }
  return byName;
}

function looksLikePath(reference: string): boolean {
  return reference.includes("/") || /\.ya?ml$/i.test(reference);
}

/**
 * Resolves `--profile` references: a built-in profile's name, or a YAML file with one or more SLOProfiles.
 * Two profiles with one name are an error (their verdicts could not be told apart).
 */
export async function resolveProfiles(
  references: readonly string[],
  dir = BUILT_IN_PROFILE_DIR,
): Promise<SLOProfile[]> {
  const builtIn = await loadBuiltInProfiles(dir);
  const profiles: SLOProfile[] = [];
  for (const reference of references) {
    if (looksLikePath(reference)) {
      profiles.push(...(await loadProfileFile(reference)));
      continue;
    }
    const profile = builtIn.get(reference);
    if (!profile) {
      const names = [...builtIn.keys()].join(", ");
      throw new ProfileError(
        `unknown profile "${reference}": built-in profiles are ${names}; or give a YAML file`,
      );
    }
    profiles.push(profile);
  }
  const seen = new Set<string>();
  for (const profile of profiles) {
    if (seen.has(profile.metadata.name))
      throw new ProfileError(`profile "${profile.metadata.name}" is given twice`);
    seen.add(profile.metadata.name);
  }
  return profiles;
}

/** The population a query is rendered for. */
export interface Target {
  namespace: string;
  workload: string;
  service: string;
}

export type ArgValue = string | number | boolean;

/** Text safe inside a PromQL double-quoted string. */
function escapePromQL(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatBound(value: number): string {
  return String(value);
}

/** The values of a profile's declared args: given ones over defaults; every arg needs one. */
export function resolveArgs(
  profile: SLOProfile,
  provider: MetricProvider,
  given: Readonly<Record<string, ArgValue>> = {},
): Record<string, ArgValue> {
  const declared = profile.spec.args ?? {};
  const name = profile.metadata.name;
  const unknown = Object.keys(given).filter((arg) => !(arg in declared));
  if (unknown.length > 0) {
    const known = Object.keys(declared);
    throw new ProfileError(
      `profile "${name}" has no arg ${unknown.join(", ")}; ${known.length > 0 ? `its args are ${known.join(", ")}` : "it takes no args"}`,
    );
  }
  const values: Record<string, ArgValue> = {};
  for (const [arg, spec] of Object.entries(declared)) {
    const value = given[arg] ?? spec.default;
    if (value === undefined) throw new ProfileError(`profile "${name}" needs a value for arg ${arg}`);
    const bounds = spec.histogramBounds?.[provider];
    if (bounds) {
      const number = typeof value === "number" ? value : Number(value);
      if (typeof value === "boolean" || !Number.isFinite(number)) {
        throw new ProfileError(
          `profile "${name}": arg ${arg} must be a number (a bucket bound), not ${JSON.stringify(value)}`,
        );
      }
      if (!bounds.includes(number)) {
        const sorted = [...bounds].sort((a, b) => a - b);
        const below = sorted.filter((bound) => bound < number).at(-1);
        const above = sorted.find((bound) => bound > number);
        const nearest = [below, above]
          .filter((bound) => bound !== undefined)
          .map((bound) => formatBound(bound as number));
        throw new ProfileError(
          `profile "${name}": ${arg} ${number} is not a bucket bound of ${provider}'s histogram; the nearest are ${nearest.join(" and ")}`,
        );
      }
      values[arg] = number;
    } else values[arg] = value;
  }
  return values;
}

function render(template: string, variables: Readonly<Record<string, ArgValue>>): string {
  return template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_match, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new ProfileError(`no value for {{${name}}}`);
    return escapePromQL(String(value));
  });
}

/** The query templates of a profile's two counters (bad or good, and total) for a mesh. */
function counterTemplates(
  profile: SLOProfile,
  provider: MetricProvider,
): { part: PopulationQueries["part"]; ratio: string; total: string } {
  const ratio = profile.spec.indicator.ratioMetric;
  const part = ratio.bad ? "bad" : "good";
  const ratioTemplate = (ratio.bad ?? ratio.good)?.metricSource.spec.queries[provider];
  const totalTemplate = ratio.total.metricSource.spec.queries[provider];
  if (ratioTemplate === undefined || totalTemplate === undefined) {
    const meshes = METRIC_PROVIDERS.filter(
      (mesh) =>
        (ratio.bad ?? ratio.good)?.metricSource.spec.queries[mesh] !== undefined &&
        ratio.total.metricSource.spec.queries[mesh] !== undefined,
    );
    throw new ProfileError(
      `profile "${profile.metadata.name}" has no ${provider} queries; it has queries for ${meshes.join(", ") || "no mesh"}`,
    );
  }
  return { part, ratio: ratioTemplate, total: totalTemplate };
}

/**
 * The PromQL of one population for a mesh: the bad (or good) counter and the total counter, with namespace,
 * workload, service and the args filled in (as PromQL string contents, escaped).
 */
export function renderQueries(
  profile: SLOProfile,
  provider: MetricProvider,
  target: Target,
  args: Readonly<Record<string, ArgValue>> = {},
): PopulationQueries {
  const templates = counterTemplates(profile, provider);
  const variables = { ...resolveArgs(profile, provider, args), ...target };
  return {
    part: templates.part,
    ratio: render(templates.ratio, variables),
    total: render(templates.total, variables),
  };
}

/**
 * One counter's query as many rollouts share it: `shared` is the rendered selector without the matchers
 * that name the population (those with {{namespace}}, {{workload}} or {{service}}), the same text for every
 * rollout with the same profile, mesh and args; `own` are those matchers, which pick this population's
 * series from the shared answer.
 */
export interface SharedQuery {
  shared: string;
  own: LabelMatcher[];
}

const TARGET_PLACEHOLDER = /\{\{\s*(namespace|workload|service)\s*\}\}/;

function share(template: string, variables: Readonly<Record<string, ArgValue>>): SharedQuery | undefined {
  const pattern = parseSelector(template);
  const rendered = parseSelector(render(template, variables));
  if (!pattern || !rendered || pattern.matchers.length !== rendered.matchers.length) return undefined;
  const own = pattern.matchers.map((matcher) => TARGET_PLACEHOLDER.test(matcher.value));
  if (!own.includes(true)) return undefined;
  return {
    shared: formatSelector({
      metric: rendered.metric,
      matchers: rendered.matchers.filter((_, i) => !own[i]),
    }),
    own: rendered.matchers.filter((_, i) => own[i]),
  };
}

/**
 * A counter whose shared selector is a wider one's with more matchers (the bad requests among all: the
 * total's selector and `response_code=~"5.."`) is read from the wider one's answer, the extra matchers
 * picking its series: one query serves both counters.
 */
function within(wide: SharedQuery, narrow: SharedQuery): SharedQuery {
  const outer = parseSelector(wide.shared);
  const inner = parseSelector(narrow.shared);
  if (!outer || !inner || outer.metric !== inner.metric) return narrow;
  const same = (a: LabelMatcher, b: LabelMatcher) =>
    a.label === b.label && a.op === b.op && a.value === b.value;
  if (!outer.matchers.every((m) => inner.matchers.some((n) => same(m, n)))) return narrow;
  const extra = inner.matchers.filter((n) => !outer.matchers.some((m) => same(m, n)));
  return { shared: wide.shared, own: [...narrow.own, ...extra] };
}

/**
 * The shared form of a population's two queries (see SharedQuery); undefined for a template that is not a
 * bare selector (a function or an operator around it), which is queried per rollout as rendered. When the
 * ratio's counter selects a subset of the total's series, both are read from the total's answer.
 */
export function sharedQueries(
  profile: SLOProfile,
  provider: MetricProvider,
  target: Target,
  args: Readonly<Record<string, ArgValue>> = {},
): { ratio: SharedQuery | undefined; total: SharedQuery | undefined } {
  const templates = counterTemplates(profile, provider);
  const variables = { ...resolveArgs(profile, provider, args), ...target };
  const ratio = share(templates.ratio, variables);
  const total = share(templates.total, variables);
  return { ratio: ratio && total ? within(total, ratio) : ratio, total };
}

/** The queries of both populations (the canary and the baseline it is compared with) for one profile. */
export function indicatorQueries(
  profile: SLOProfile,
  provider: MetricProvider,
  populations: { canary: Target; baseline: Target },
  args: Readonly<Record<string, ArgValue>> = {},
): IndicatorQueries {
  return {
    canary: renderQueries(profile, provider, populations.canary, args),
    baseline: renderQueries(profile, provider, populations.baseline, args),
  };
}
