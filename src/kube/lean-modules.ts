/**
 * Keeps modules a process never uses out of it, for the commands that talk to a cluster (above all the
 * long-running controller, whose idle memory issue 18 bounds at 100 MiB). Two packages import, for a few
 * names, an index that loads far more:
 *
 * - @kubernetes/client-node: Stepwise uses its KubeConfig (authentication, TLS) and HTTP layer, never its
 *   ~700 generated API and model classes, but its config.js imports them all through gen/index.js for
 *   two names: about 55 MiB of resident memory, and a second of start-up on a busy machine.
 * - zod: its core and classic entries re-export every locale's messages (about 50 modules) as
 *   `z.locales`; Stepwise uses English only (zod sets it from locales/en.js itself) and never
 *   `z.locales`: about 5 MiB.
 *
 * A module-resolution hook gives each such import a module with just the names listed in LEAN, taken
 * from the same files the index re-exports them from, so everything used behaves exactly as before.
 * Should a new version of a package import more from its index, loading fails at once ("does not provide
 * an export named"), never later; both versions are pinned in package.json.
 *
 * It must be registered before the first import of these packages (a hook sees only later imports), and
 * it makes every later module resolution a round trip to the hook's thread: the CLI registers it right
 * before it loads the Kubernetes client (cli/program.ts, cli/commands/follow.ts).
 */
import { register } from "node:module";

/** Each import to make lean: who imports it (the end of the importer's URL), and what it gets instead. */
const LEAN: { importer: string; specifier: string; exports: Record<string, [file: string, name: string]> }[] =
  [
    {
      importer: "/@kubernetes/client-node/dist/config.js",
      specifier: "./gen/index.js",
      exports: {
        createConfiguration: ["./gen/configuration.js", "createConfiguration"],
        ServerConfiguration: ["./gen/servers.js", "ServerConfiguration"],
      },
    },
    ...["/zod/v4/core/index.js", "/zod/v4/classic/external.js"].map((importer) => ({
      importer,
      specifier: "../locales/index.js",
      exports: { en: ["../locales/en.js", "default"] as [string, string] },
    })),
  ];

/** The hook, as the source of a module (registered from a data: URL, so it needs no file of its own). */
const HOOKS = `
const LEAN = ${JSON.stringify(LEAN)};
export async function resolve(specifier, context, next) {
  const lean = LEAN.find((l) => l.specifier === specifier && context.parentURL?.endsWith(l.importer));
  if (!lean) return next(specifier, context);
  const source = Object.entries(lean.exports)
    .map(([as, [file, name]]) => "export { " + name + " as " + as + " } from " + JSON.stringify(new URL(file, context.parentURL).href) + ";")
    .join("\\n");
  return { url: "data:text/javascript," + encodeURIComponent(source), shortCircuit: true };
}
`;

let registered = false;

/** Registers the hook (once per process). */
export function leanModules(): void {
  if (registered) return;
  registered = true;
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
}
