import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { startKubeApi } from "../../src/sandbox/kube-api/index.ts";

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("must be a port number (0 picks a free one)");
  return n;
}

/** `rollout sandbox api`: the emulated Kubernetes API server, until SIGINT or SIGTERM. */
export function sandboxApiCommand(): Command {
  return new Command("api")
    .description("Run an emulated Kubernetes API server on loopback and write a kubeconfig for it")
    .option("--port <port>", "port to listen on (0 picks a free port)", port, 18080)
    .option("--kubeconfig <path>", "where to write the kubeconfig", "./kubeconfig")
    .option("--deployment-controller", "simulate Deployment rollouts (status follows spec)")
    .option("--namespace-controller", "delete a namespace's objects when the namespace is deleted")
    .option("--garbage-collector", "delete dependents of deleted owners (ownerReferences)")
    .action(
      async (opts: {
        port: number;
        kubeconfig: string;
        deploymentController?: boolean;
        namespaceController?: boolean;
        garbageCollector?: boolean;
      }) => {
        const api = await startKubeApi({
          port: opts.port,
          controllers: {
            deployments: opts.deploymentController === true,
            namespaces: opts.namespaceController === true,
            garbageCollector: opts.garbageCollector === true,
          },
        });
        await api.writeKubeconfig(resolve(opts.kubeconfig));
        process.stdout.write(`ready ${api.url}\n`);
        await new Promise<void>((done) => {
          const stop = () => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            done();
          };
          process.on("SIGINT", stop);
          process.on("SIGTERM", stop);
        });
        await api.close();
      },
    );
}
