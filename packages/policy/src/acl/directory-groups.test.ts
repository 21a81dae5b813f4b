import { describe, expect, it } from "vitest";
import { testSnapshot } from "../test-snapshot";
import { compileAcl } from "./compile";
import { evaluate } from "./evaluate";

// Groups a relay reads from the system's directory (auth.group_source = "nss") join
// the snapshot's groups of a user for one request.
const acl = compileAcl(
  testSnapshot({
    acl: { enabled: true, defaultPolicy: "block" },
    users: [{ username: "alice", groups: ["Staff"] }],
    groups: [{ name: "Domain Users" }, { name: "Staff" }, { name: "Blocked" }],
    rules: [
      { id: "du", owner: { kind: "group", name: "Domain Users" }, destinations: ["du.example"] },
      { id: "staff", owner: { kind: "group", name: "Staff" }, destinations: ["staff.example"] },
      {
        id: "no",
        owner: { kind: "group", name: "Blocked" },
        action: "block",
        destinations: ["*"],
        priority: 1,
      },
      { id: "own", owner: { kind: "user", name: "alice" }, destinations: ["own.example"] },
    ],
  }),
);
const decide = (user: string, host: string, groups?: readonly string[]) =>
  evaluate(acl, { user, host, port: 443, protocol: "tcp", groups }).ruleId;

describe("directory groups", () => {
  it("keeps only the groups the policy defines, in the policy's spelling, matched case-insensitively", () => {
    expect(acl.policyGroups(["domain users", "STAFF", "wheel", "Domain Users"])).toEqual([
      "Domain Users",
      "Staff",
    ]);
  });

  it("adds a directory group's rules to a user the snapshot does not know", () => {
    expect(decide("pam-user", "du.example")).toBeNull();
    expect(decide("pam-user", "du.example", ["Domain Users"])).toBe("du");
    expect(decide("pam-user", "staff.example", ["Domain Users"])).toBeNull();
  });

  it("adds them beside a known user's own rules and snapshot groups; a directory group's block wins", () => {
    expect(decide("alice", "own.example", ["Domain Users"])).toBe("own");
    expect(decide("alice", "staff.example", ["Domain Users"])).toBe("staff");
    expect(decide("alice", "du.example", ["Domain Users"])).toBe("du");
    expect(decide("alice", "own.example", ["Blocked"])).toBe("no");
    // Without directory groups the cached index of alice is unchanged.
    expect(decide("alice", "du.example")).toBeNull();
  });
});
