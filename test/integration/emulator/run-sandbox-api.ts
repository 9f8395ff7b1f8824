// Mounts the command the way cli/main.ts will (`rollout sandbox api`), so the CLI test runs the real thing.
import { Command } from "commander";
import { sandboxApiCommand } from "../../../cli/commands/sandbox-api.ts";

await new Command("rollout")
  .addCommand(new Command("sandbox").addCommand(sandboxApiCommand()))
  .parseAsync(process.argv);
