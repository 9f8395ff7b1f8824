import { Command, Option } from "commander";
import { DEFAULT_FAULT_STATUS, isFaultHttpStatus } from "../../src/faults/answer.ts";
import { FAULT_SERVER_PORT } from "../../src/faults/deployment.ts";
import { startFaultServer } from "../../src/faults/server.ts";
import { createLogger, LOG_LEVELS, type LogLevel } from "../../src/telemetry/logger.ts";
import { EXIT } from "../exit-codes.ts";
import { numberFlag, runCli } from "../options.ts";

interface FaultServerFlags {
  port: string;
  address: string;
  status: string;
  logLevel: LogLevel;
}

/** `rollout fault-server`: the error backend behind `<rollout>-fault` (manifests/fault-server). */
export function faultServerCommand(): Command {
  return new Command("fault-server")
    .description(
      "answer every request with an injected fault: the error backend of abort faults on HTTPRoute, TrafficSplit and ServiceSplitter",
    )
    .option("--port <port>", "port to listen on (0: any free port)", String(FAULT_SERVER_PORT))
    .option("--address <address>", "address to listen on", "0.0.0.0")
    .option(
      "--status <code>",
      "HTTP status of a request whose x-stepwise-fault-status header asks for none (200-599)",
      String(DEFAULT_FAULT_STATUS),
    )
    .addOption(new Option("--log-level <level>", "log level").choices([...LOG_LEVELS]).default("info"))
    .action((flags: FaultServerFlags) =>
      runCli(async () => {
        const port = numberFlag(
          "--port",
          flags.port,
          (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
          "a port from 0 to 65535",
        );
        const defaultStatus = numberFlag(
          "--status",
          flags.status,
          isFaultHttpStatus,
          "an HTTP status from 200 to 599",
        );
        const logger = createLogger(flags.logLevel);
        const server = await startFaultServer({ port, host: flags.address, defaultStatus, logger });
        logger.info({ url: server.url, status: defaultStatus }, "fault server started");
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        logger.info("stopping");
        await server.close();
        return EXIT.ok;
      }),
    );
}
