/** The one classifier of a destination's role, with the names each provider gives it. */
import { describe, expect, it } from "vitest";
import { destinationRole, type RoleNames } from "../../../src/routers/roles.ts";

const byName: RoleNames = {
  namespace: "shop",
  match: "name",
  stable: { service: "reviews-stable" },
  canary: { service: "reviews-canary" },
  fault: { service: "reviews-fault" },
};

describe("destinationRole", () => {
  it("names stable, canary and fault by their Service, and anything else the user's", () => {
    expect(destinationRole(byName, { service: "reviews-stable" })).toBe("stable");
    expect(destinationRole(byName, { service: "reviews-canary" })).toBe("canary");
    expect(destinationRole(byName, { service: "reviews-fault" })).toBe("fault");
    expect(destinationRole(byName, { service: "reviews-v2" })).toBe("foreign");
    expect(destinationRole(byName, { service: undefined })).toBe("foreign");
  });

  it("takes a Service in another namespace for the user's, and the rollout's own namespace for its", () => {
    expect(destinationRole(byName, { service: "reviews-stable", namespace: "other" })).toBe("foreign");
    expect(destinationRole(byName, { service: "reviews-stable", namespace: "shop" })).toBe("stable");
  });

  it("compares exactly by name, or as hosts in any DNS form", () => {
    const fqdn = "reviews-stable.shop.svc.cluster.local";
    expect(destinationRole(byName, { service: fqdn })).toBe("foreign");
    expect(destinationRole({ ...byName, match: "host" }, { service: fqdn })).toBe("stable");
    expect(destinationRole({ ...byName, match: "host" }, { service: "reviews-stable.other" })).toBe(
      "foreign",
    );
  });

  it("matches a subset when the target names one ('' for none) and any subset when it does not", () => {
    const subsets: RoleNames = {
      namespace: "shop",
      match: "host",
      stable: { service: "reviews", subset: "v3" },
      canary: { service: "reviews", subset: "canary" },
    };
    expect(destinationRole(subsets, { service: "reviews", subset: "v3" })).toBe("stable");
    expect(destinationRole(subsets, { service: "reviews", subset: "canary" })).toBe("canary");
    expect(destinationRole(subsets, { service: "reviews", subset: "v2" })).toBe("foreign");
    expect(destinationRole(subsets, { service: "reviews" })).toBe("foreign");
    const wholeServices: RoleNames = { ...byName, stable: { service: "splitter", subset: "" } };
    expect(destinationRole(wholeServices, { service: "splitter" })).toBe("stable");
    expect(destinationRole(wholeServices, { service: "splitter", subset: "" })).toBe("stable");
    expect(destinationRole(wholeServices, { service: "splitter", subset: "stable" })).toBe("foreign");
    expect(destinationRole(byName, { service: "reviews-stable", subset: "anything" })).toBe("stable");
  });
});
