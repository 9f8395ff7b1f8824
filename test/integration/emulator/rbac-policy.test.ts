/**
 * The emulator serves the kinds an install needs beyond workloads: ServiceAccount, RBAC's roles and
 * bindings, and the PodDisruptionBudget, with the apiserver's checks that matter to an install (a binding's
 * roleRef is a role and never changes; a budget sets minAvailable or maxUnavailable, not both). Driven by the
 * real kubectl.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type Harness, type Json, startHarness } from "./harness.ts";

const RBAC = "rbac.authorization.k8s.io/v1";

function binding(kind: string, roleRef: Json, namespace?: string): Json {
  return {
    apiVersion: RBAC,
    kind,
    metadata: { name: "reader", ...(namespace ? { namespace } : {}) },
    subjects: [{ kind: "ServiceAccount", name: "reader", namespace: "default" }],
    roleRef,
  };
}

function budget(spec: Json): Json {
  return { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "app" }, spec };
}

describe("ServiceAccount, RBAC and PodDisruptionBudget", () => {
  let h: Harness;
  const apply = (...objects: Json[]) =>
    h.kubectl(["apply", "-n", "default", "-f", "-"], objects.map((o) => stringify(o)).join("---\n"));

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.close());

  it("creates them, and an apply replaces a role's rules whole", async () => {
    const role = {
      apiVersion: RBAC,
      kind: "ClusterRole",
      metadata: { name: "reader" },
      rules: [
        { apiGroups: [""], resources: ["services"], verbs: ["get", "list"] },
        { apiGroups: [""], resources: ["secrets"], resourceNames: ["token"], verbs: ["get"] },
      ],
    };
    const created = await apply(
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reader" } },
      role,
      binding("ClusterRoleBinding", {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "reader",
      }),
      binding(
        "RoleBinding",
        { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "reader" },
        "default",
      ),
      budget({ minAvailable: 1, selector: { matchLabels: { app: "app" } } }),
    );
    expect(created.stderr).toBe("");
    expect(created.stdout.trim().split("\n")).toEqual([
      "serviceaccount/reader created",
      "clusterrole.rbac.authorization.k8s.io/reader created",
      "clusterrolebinding.rbac.authorization.k8s.io/reader created",
      "rolebinding.rbac.authorization.k8s.io/reader created",
      "poddisruptionbudget.policy/app created",
    ]);

    const narrowed = { ...role, rules: [{ apiGroups: [""], resources: ["services"], verbs: ["get"] }] };
    expect((await apply(narrowed)).stdout).toContain(
      "clusterrole.rbac.authorization.k8s.io/reader configured",
    );
    const rules = JSON.parse(await h.kubectlOk(["get", "clusterrole", "reader", "-o", "jsonpath={.rules}"]));
    expect(rules).toEqual(narrowed.rules);

    // cluster-scoped kinds have no namespace; the budget's status starts at zero until a controller counts
    expect(
      await h.kubectlOk(["get", "clusterrolebinding", "reader", "-o", "jsonpath={.metadata.namespace}"]),
    ).toBe("");
    const status = JSON.parse(
      await h.kubectlOk(["get", "pdb", "app", "-n", "default", "-o", "jsonpath={.status}"]),
    );
    expect(status).toEqual({ currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0 });
  });

  it("refuses to change a binding's roleRef, naming the field", async () => {
    const result = await apply(
      binding(
        "RoleBinding",
        { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "other" },
        "default",
      ),
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("roleRef: Invalid value");
    expect(result.stderr).toContain("cannot change roleRef");
  });

  it("refuses a roleRef that is not a role of the RBAC group", async () => {
    const result = await apply({
      ...binding("ClusterRoleBinding", { apiGroup: "apps", kind: "Role", name: "reader" }),
      metadata: { name: "wrong" },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('roleRef.apiGroup: Unsupported value: "apps"');
    expect(result.stderr).toContain(
      'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
    );
  });

  it("refuses a budget with both minAvailable and maxUnavailable", async () => {
    const result = await apply({
      ...budget({ minAvailable: 1, maxUnavailable: "50%", selector: { matchLabels: { app: "app" } } }),
      metadata: { name: "both" },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("minAvailable and maxUnavailable cannot be both set");
  });
});
