import { Command } from "commander";
import { analyzeCommand } from "./commands/analyze.ts";
import { followCommands } from "./commands/follow.ts";
import { lintCommand } from "./commands/lint.ts";
import { listCommand } from "./commands/list.ts";
import { manageCommands } from "./commands/manage.ts";

const program = new Command("rollout")
  .description("Stepwise: progressive delivery for Kubernetes service meshes")
  .showHelpAfterError();
for (const command of [...followCommands(), listCommand(), ...manageCommands(), lintCommand()])
  program.addCommand(command);
program.addCommand(analyzeCommand());

await program.parseAsync(process.argv);
