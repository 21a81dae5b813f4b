import { ScopeName, SocksMethod } from "@edgesocks/policy/auth-scope";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { scopeErrorField, scopeNameError, scopeRows } from "./auth-scope-form";

describe("auth scope form", () => {
  it("lists the fleet default, then regions and nodes by name", () => {
    const rows = scopeRows({
      default: { method: "userpass", groupSource: "policy" },
      regions: {
        "us-east": { method: "pam.username", groupSource: "nss" },
        "eu-west": { method: "none", groupSource: "policy" },
      },
      nodes: { "relay-1": { method: "gssapi", groupSource: "policy" } },
    });
    expect(rows.map((r) => `${r.scope}:${r.name}:${r.method}:${r.groupSource}`)).toEqual([
      "fleet:null:userpass:policy",
      "region:eu-west:none:policy",
      "region:us-east:pam.username:nss",
      "node:relay-1:gssapi:policy",
    ]);
    expect(scopeRows({ default: null, regions: {}, nodes: {} })).toEqual([]);
  });

  it("checks a region or node name with the API's own schema; the fleet default takes none", () => {
    expect(scopeNameError("fleet", "")).toBeNull();
    expect(scopeNameError("region", " ")).toBe("a region name is required");
    expect(scopeNameError("node", "bad name")).toBe("letters, digits, . _ - (at most 63)");
    expect(scopeNameError("region", "eu-west")).toBeNull();
  });

  it("puts the API's errors at their field: `name: …` messages and refused inputs", () => {
    expect(scopeErrorField('name: no node is in region "mars" (regions: "eu")')).toEqual({
      field: "name",
      message: 'no node is in region "mars" (regions: "eu")',
    });
    const refused = z.strictObject({ name: ScopeName, method: SocksMethod });
    const bad = refused.safeParse({ name: "ok", method: "kerberos" });
    expect(scopeErrorField(z.prettifyError(bad.error!))).toEqual({
      field: "method",
      message: expect.stringContaining('got "kerberos"'),
    });
    expect(scopeErrorField("The control plane did not answer.")).toEqual({
      field: "form",
      message: "The control plane did not answer.",
    });
  });
});
