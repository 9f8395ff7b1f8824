/**
 * Keeps @kubernetes/client-node's generated API classes out of the process. Stepwise uses the package's
 * KubeConfig (authentication, TLS) and its HTTP layer, never its ~700 generated API and model classes,
 * but the package's config.js imports them all through gen/index.js for the two names it needs: about
 * 55 MiB of resident memory (half of an idle controller's) and a second of start-up on a busy machine.
 * This module-resolution hook gives config.js a module with just those two names, taken from the same
 * files gen/index.js re-exports them from, so KubeConfig behaves exactly as before. Should a new version
 * of the package import more from gen/index.js, loading fails at once ("does not provide an export
 * named"), never later; the version is pinned in package.json.
 *
 * It must be registered before the first import of the package (the hook sees only later imports): the
 * CLI does so before it loads a command that talks to a cluster (cli/program.ts).
 */
import { register } from "node:module";

/** The hook, as the source of a module: registered from a data: URL, so it needs no file of its own. */
const HOOKS = `
const CONFIG = "/@kubernetes/client-node/dist/config.js";
export async function resolve(specifier, context, next) {
  if (specifier !== "./gen/index.js" || !context.parentURL?.endsWith(CONFIG)) return next(specifier, context);
  const from = (path) => JSON.stringify(new URL(path, context.parentURL).href);
  const source =
    "export { createConfiguration } from " + from("./gen/configuration.js") + ";\\n" +
    "export { ServerConfiguration } from " + from("./gen/servers.js") + ";\\n";
  return { url: "data:text/javascript," + encodeURIComponent(source), shortCircuit: true };
}
`;

let registered = false;

/** Registers the hook (once per process). */
export function leanClientNode(): void {
  if (registered) return;
  registered = true;
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
}
