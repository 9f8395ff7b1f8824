// The client's cluster requests, shared by the CLI commands and the TUI's keys, and the CLI's own flag parsing.
import { EXIT } from "./exit-codes.ts";
import { CliError } from "./options.ts";

export { ROLLOUT, type RolloutRef, sendCommand, setImages } from "../src/client/actions.ts";

/** The parsed `--image [CONTAINER=]IMAGE` flags. */
export function parseImages(flags: string[]): { container?: string; image: string }[] {
  return flags.map((flag) => {
    const equals = flag.indexOf("=");
    // a registry port (host:5000/app) has no '=', so '=' alone separates the container name
    if (equals < 0) return { image: flag };
    const container = flag.slice(0, equals);
    const image = flag.slice(equals + 1);
    if (!container || !image)
      throw new CliError(`--image ${flag}: expected [CONTAINER=]IMAGE`, EXIT.invalidInput);
    return { container, image };
  });
}
