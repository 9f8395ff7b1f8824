/**
 * manifests/fault-server as kustomize builds it: the Deployment behind the Services `<rollout>-fault` the
 * controller creates (they must select its pods and reach its port), run with flags `rollout fault-server`
 * has, probed on the server's own paths, with no namespace (it goes into each application namespace), and
 * as locked down as the controller.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { faultServerCommand } from "../../../cli/commands/fault-server.ts";
import { parseRollout } from "../../../src/api/rollout.ts";
import { FAULT_SERVER_LABELS, FAULT_SERVER_PORT } from "../../../src/faults/deployment.ts";
import { FAULT_SERVER_PATHS } from "../../../src/faults/server.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import type { Deployment } from "../../../src/workloads/deployments.ts";
import { servicesFor } from "../../../src/workloads/services.ts";
import { find, idOf, kustomize } from "./support.ts";

// biome-ignore lint/suspicious/noExplicitAny: assertions walk Kubernetes objects, which a precise type would only obscure
type Json = Record<string, any>;

let objects: KubeObject[];
let controller: Json;

beforeAll(async () => {
  objects = await kustomize("manifests/fault-server");
  controller = find(await kustomize("manifests"), "Deployment", "stepwise-controller") as Json;
});

const deployment = () => find(objects, "Deployment", "stepwise-fault-server") as Json;
const container = () => deployment().spec.template.spec.containers[0] as Json;

describe("manifests/fault-server", () => {
  it("is one Deployment and sets no namespace, for `kubectl apply -n <app-namespace> -k`", () => {
    expect(objects.map(idOf)).toEqual(["apps/v1/Deployment stepwise-fault-server"]);
    expect(deployment().metadata.namespace).toBeUndefined();
  });

  it("runs the controller's image with flags `rollout fault-server` has", () => {
    expect(container().image).toBe(controller.spec.template.spec.containers[0].image);
    const [command, ...flags] = container().args as string[];
    expect(command).toBe("fault-server");
    const known = new Set(faultServerCommand().options.map((option) => option.long));
    for (const flag of flags) expect(known, flag).toContain(flag.split("=")[0]);
    expect(flags).toContain(`--port=${FAULT_SERVER_PORT}`);
  });

  it("has the pods and port the controller's <rollout>-fault Service selects and targets", () => {
    const parsed = parseRollout({
      apiVersion: "stepwise.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: "checkout", namespace: "shop" },
      spec: {
        targetRef: { kind: "Deployment", name: "checkout" },
        service: { port: 80 },
        traffic: { provider: "gateway" },
        strategy: {
          canary: {
            steps: [
              { setWeight: 10 },
              {
                chaos: { fault: { abort: { httpStatus: 500, percent: 5 } }, target: "route", duration: "1m" },
              },
            ],
          },
        },
      },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const target: Deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "checkout", namespace: "shop" },
      spec: { selector: { matchLabels: { app: "checkout" } }, template: { spec: {} } },
    };
    const owner = { apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout", name: "checkout", uid: "u" };
    const service = servicesFor(parsed.value, target, owner).fault!;

    const podLabels: Json = deployment().spec.template.metadata.labels;
    const selects = (selector: Json) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(service.spec.selector).toEqual(FAULT_SERVER_LABELS);
    expect(selects(service.spec.selector!)).toBe(true);
    expect(selects(deployment().spec.selector.matchLabels)).toBe(true);
    const ports = (container().ports as Json[]).map((p) => p.containerPort);
    expect(ports).toContain(service.spec.ports[0]!.targetPort);
  });

  it("probes the server's own paths and sets requests and limits", () => {
    const c = container();
    expect(c.startupProbe.httpGet).toEqual({ path: FAULT_SERVER_PATHS.healthz, port: "http" });
    expect(c.livenessProbe.httpGet).toEqual({ path: FAULT_SERVER_PATHS.healthz, port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: FAULT_SERVER_PATHS.readyz, port: "http" });
    expect(c.ports.find((p: Json) => p.name === "http").containerPort).toBe(FAULT_SERVER_PORT);
    for (const resource of ["cpu", "memory"]) {
      expect(c.resources.requests[resource], resource).toBeDefined();
      expect(c.resources.limits[resource], resource).toBeDefined();
    }
  });

  it("runs as the controller does: non-root, read-only root filesystem, no privilege escalation or capabilities", () => {
    const pod = deployment().spec.template.spec;
    expect(pod.securityContext).toEqual(controller.spec.template.spec.securityContext);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container().securityContext).toEqual(controller.spec.template.spec.containers[0].securityContext);
    expect(container().securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    });
    // the only writable place: tsx's cache in $TMPDIR
    const tmp = container().env.find((e: Json) => e.name === "TMPDIR").value;
    const mount = container().volumeMounts.find((m: Json) => m.mountPath === tmp);
    expect(pod.volumes.find((v: Json) => v.name === mount.name).emptyDir).toBeDefined();
  });
});
