import { describe, expect, it } from "vitest";
import { testSnapshot } from "../test-snapshot";
import { compileAcl } from "./compile";
import { unresolvedAddressBlock } from "./unresolved";

const alice = { kind: "user", name: "alice" } as const;

describe("unresolvedAddressBlock: a name the relay never resolves", () => {
  const acl = compileAcl(
    testSnapshot({
      users: [{ username: "alice" }],
      rules: [
        { id: "allow-all", owner: alice, destinations: ["*"] },
        {
          id: "no-loopback",
          owner: alice,
          action: "block",
          destinations: ["127.0.0.0/8"],
          ports: ["22"],
        },
        { id: "no-name", owner: alice, action: "block", destinations: ["blocked.example"] },
        { id: "allow-net", owner: alice, destinations: ["127.0.0.0/8"], ports: ["80"] },
      ],
    }),
  );
  const request = (port: number, user = "alice") =>
    ({ user, host: "somewhere.example", port, protocol: "tcp" }) as const;

  it("returns the block rule on addresses that could apply, so the request is refused", () => {
    expect(unresolvedAddressBlock(acl, request(22))?.ruleId).toBe("no-loopback");
  });

  it("ignores block rules on names (decided by name already) and allow rules on addresses", () => {
    expect(unresolvedAddressBlock(acl, request(80))).toBeNull();
    expect(unresolvedAddressBlock(acl, request(22, "bob"))).toBeNull();
  });

  it("honours the block rule's own conditions (here: a port it does not cover)", () => {
    expect(unresolvedAddressBlock(acl, request(443))).toBeNull();
  });
});
