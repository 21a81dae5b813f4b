import { describe, expect, it } from "vitest";
import { RelayAuthScopes, resolveAuthScope } from "./auth-scope";
import { snapshotHash, validateSnapshot } from "./snapshot";
import { testSnapshot } from "./test-snapshot";

const scopes: RelayAuthScopes = {
  default: { method: "userpass" },
  regions: { "eu-west": { method: "pam.username", groupSource: "nss" } },
  nodes: { "relay-eu-2": { method: "gssapi" }, "relay-us-1": { method: "none" } },
};

describe("resolveAuthScope", () => {
  it("a node override wins over its region's and the fleet default", () => {
    expect(resolveAuthScope(scopes, { name: "relay-eu-2", region: "eu-west" })).toEqual({
      method: "gssapi",
      groupSource: "policy",
      scope: "node",
    });
  });

  it("a region override wins over the fleet default", () => {
    expect(resolveAuthScope(scopes, { name: "relay-eu-1", region: "eu-west" })).toEqual({
      method: "pam.username",
      groupSource: "nss",
      scope: "region",
    });
  });

  it("the fleet default applies to a node with no override of its own or its region's", () => {
    expect(resolveAuthScope(scopes, { name: "relay-ap-1", region: "ap-south" })).toEqual({
      method: "userpass",
      groupSource: "policy",
      scope: "fleet",
    });
  });

  it("a node override applies in any region", () => {
    expect(resolveAuthScope(scopes, { name: "relay-us-1", region: "eu-west" })?.method).toBe(
      "none",
    );
  });

  it("without a default, a node no scope names gets null (the policy's methods apply)", () => {
    const { default: _none, ...partial } = scopes;
    expect(resolveAuthScope(partial, { name: "relay-ap-1", region: "ap-south" })).toBeNull();
    expect(resolveAuthScope(undefined, { name: "relay-eu-1", region: "eu-west" })).toBeNull();
  });

  it("a standalone relay (no name, no region) gets the fleet default", () => {
    expect(resolveAuthScope(scopes, { name: null, region: null })?.scope).toBe("fleet");
  });

  it("names that are Object.prototype members do not resolve to them", () => {
    expect(resolveAuthScope({ nodes: {} }, { name: "constructor", region: "toString" })).toBeNull();
  });
});

describe("RelayAuthScopes", () => {
  it("refuses an unknown method, naming the methods it knows", () => {
    const result = RelayAuthScopes.safeParse({ default: { method: "pam" } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain('"pam.username"');
  });

  it("refuses an unknown key and a node name nodes.enroll would refuse", () => {
    expect(RelayAuthScopes.safeParse({ fleet: { method: "none" } }).success).toBe(false);
    expect(RelayAuthScopes.safeParse({ nodes: { "bad name": { method: "none" } } }).success).toBe(
      false,
    );
  });
});

describe("auth.scopes in a snapshot", () => {
  it("is optional: a snapshot without it keeps the hash it had", () => {
    const snapshot = testSnapshot();
    expect(snapshot.auth.scopes).toBeUndefined();
    expect(Object.keys(snapshot.auth).sort()).toEqual(["anonymousUser", "methods"]);
    expect(snapshot.hash).toBe(snapshotHash(snapshot));
  });

  it("travels in the snapshot and is covered by its hash", () => {
    const snapshot = testSnapshot({ auth: { methods: ["none"], scopes } });
    const wire = JSON.parse(JSON.stringify(snapshot));
    expect(validateSnapshot(wire).ok).toBe(true);
    wire.auth.scopes.nodes["relay-eu-2"].method = "none";
    const tampered = validateSnapshot(wire);
    expect(tampered.ok).toBe(false);
  });
});
