import { Command } from "commander";
import { lintCommand } from "./commands/lint.ts";

const program = new Command("rollout")
  .description("Stepwise: progressive delivery for Kubernetes service meshes")
  .showHelpAfterError()
  .addCommand(lintCommand());

await program.parseAsync(process.argv);
