import { Command } from "commander";
import { analyzeCommand } from "./commands/analyze.ts";
import { controllerCommand } from "./commands/controller.ts";
import { faultServerCommand } from "./commands/fault-server.ts";
import { followCommands } from "./commands/follow.ts";
import { lintCommand } from "./commands/lint.ts";
import { listCommand } from "./commands/list.ts";
import { manageCommands } from "./commands/manage.ts";
import { sandboxCommand } from "./commands/sandbox.ts";
import { usageErrorsExitInvalid } from "./exit-codes.ts";

const program = new Command("rollout")
  .description("Stepwise: progressive delivery for Kubernetes service meshes")
  .showHelpAfterError();
const commands = [
  ...followCommands(),
  listCommand(),
  ...manageCommands(),
  lintCommand(),
  analyzeCommand(),
  controllerCommand(),
  faultServerCommand(),
  sandboxCommand(),
];
for (const command of commands) program.addCommand(command);
usageErrorsExitInvalid(program);

await program.parseAsync(process.argv);
