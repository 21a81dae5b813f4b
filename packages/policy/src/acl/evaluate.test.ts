import { describe, expect, it } from "vitest";
import { testSnapshot } from "../test-snapshot";
import { compileAcl } from "./compile";
import { evaluate, explain } from "./evaluate";
import type { AclRequest } from "./types";

const alice = { kind: "user", name: "alice" } as const;
const developers = { kind: "group", name: "developers" } as const;

function request(overrides: Partial<AclRequest> = {}): AclRequest {
  return { user: "alice", host: "example.com", port: 443, protocol: "tcp", ...overrides };
}

const aliceInDevelopers = {
  users: [{ username: "alice", groups: ["developers"] }, { username: "bob" }],
  groups: [{ name: "developers" }],
};

describe("evaluate: destinations", () => {
  const acl = compileAcl(
    testSnapshot({
      ...aliceInDevelopers,
      rules: [
        { id: "exact", owner: alice, destinations: ["exact.example"] },
        { id: "suffix", owner: alice, destinations: ["*.suffix.example"] },
        { id: "inner", owner: alice, destinations: ["api.*.inner"] },
        { id: "v4", owner: alice, destinations: ["192.0.2.7"] },
        { id: "cidr4", owner: alice, destinations: ["198.51.100.0/24"] },
        { id: "v6", owner: alice, destinations: ["2001:db8::7"] },
        { id: "cidr6", owner: alice, destinations: ["2001:db8:1::/48"] },
      ],
    }),
  );
  const decide = (overrides: Partial<AclRequest>) => evaluate(acl, request(overrides)).ruleId;

  it("matches each destination form", () => {
    expect(decide({ host: "EXACT.example." })).toBe("exact");
    expect(decide({ host: "a.b.suffix.example" })).toBe("suffix");
    expect(decide({ host: "suffix.example" })).toBeNull();
    expect(decide({ host: "api.v2.inner" })).toBe("inner");
    expect(decide({ host: "api.v2.x.inner" })).toBeNull();
    expect(decide({ host: "192.0.2.7" })).toBe("v4");
    expect(decide({ host: "192.0.2.8" })).toBeNull();
    expect(decide({ host: "198.51.100.200" })).toBe("cidr4");
    expect(decide({ host: "2001:DB8::7" })).toBe("v6");
    expect(decide({ host: "2001:db8:1:ffff::1" })).toBe("cidr6");
    expect(decide({ host: "2001:db8:2::1" })).toBeNull();
  });

  it("matches IP rules against the resolved address of a name", () => {
    expect(decide({ host: "somewhere.test", address: "198.51.100.1" })).toBe("cidr4");
    expect(decide({ host: "somewhere.test", address: "2001:db8:1::5" })).toBe("cidr6");
    // Before DNS, IP rules cannot match a name.
    expect(decide({ host: "somewhere.test" })).toBeNull();
  });

  it("treats IPv4-mapped IPv6 as IPv4, in requests and in rules", () => {
    expect(decide({ host: "::ffff:198.51.100.9" })).toBe("cidr4");
    expect(decide({ host: "::ffff:c633:6409" })).toBe("cidr4");
    expect(decide({ host: "x.test", address: "::ffff:192.0.2.7" })).toBe("v4");
    const mappedRule = compileAcl(
      testSnapshot({
        rules: [{ id: "mapped", owner: alice, destinations: ["::ffff:10.0.0.0/104"] }],
      }),
    );
    expect(evaluate(mappedRule, request({ host: "10.200.0.1" })).ruleId).toBe("mapped");
  });

  it("ignores a zone id and does not crash on odd numeric forms", () => {
    const acl6 = compileAcl(
      testSnapshot({ rules: [{ id: "ll", owner: alice, destinations: ["fe80::/10"] }] }),
    );
    expect(evaluate(acl6, request({ host: "fe80::1%eth0" })).ruleId).toBe("ll");
    expect(decide({ host: "127.1" })).toBeNull();
    expect(decide({ host: "0x7f.1", address: "not-an-ip" })).toBeNull();
    expect(decide({ host: "" })).toBeNull();
  });
});

describe("evaluate: ports and protocols", () => {
  const acl = compileAcl(
    testSnapshot({
      rules: [
        { id: "web", owner: alice, ports: ["80,443", "8000-8080"], protocols: ["tcp"] },
        { id: "dns", owner: alice, ports: ["53"], protocols: ["udp"] },
        { id: "both", owner: alice, ports: ["123"], protocols: ["both"] },
      ],
    }),
  );
  const decide = (port: number, protocol: "tcp" | "udp") =>
    evaluate(acl, request({ port, protocol })).ruleId;

  it("filters by port spec and protocol", () => {
    expect(decide(443, "tcp")).toBe("web");
    expect(decide(8042, "tcp")).toBe("web");
    expect(decide(8081, "tcp")).toBeNull();
    expect(decide(443, "udp")).toBeNull();
    expect(decide(53, "udp")).toBe("dns");
    expect(decide(53, "tcp")).toBeNull();
    expect(decide(123, "tcp")).toBe("both");
    expect(decide(123, "udp")).toBe("both");
  });
});

describe("evaluate: precedence", () => {
  it("lets a matching block beat any matching allow, whatever the priorities", () => {
    const acl = compileAcl(
      testSnapshot({
        rules: [
          { id: "allow-high", owner: alice, action: "allow", priority: 1000 },
          { id: "block-low", owner: alice, action: "block", priority: -5 },
        ],
      }),
    );
    expect(evaluate(acl, request())).toMatchObject({ action: "block", ruleId: "block-low" });
  });

  it("takes the higher priority among the same action, then the earlier rule", () => {
    const acl = compileAcl(
      testSnapshot({
        rules: [
          { id: "first", owner: alice, priority: 10 },
          { id: "second", owner: alice, priority: 50 },
          { id: "third", owner: alice, priority: 50 },
        ],
      }),
    );
    expect(evaluate(acl, request()).ruleId).toBe("second");
  });

  it("falls through to lower-ranked rules when a higher one misses on port", () => {
    const acl = compileAcl(
      testSnapshot({
        rules: [
          { id: "block-ssh", owner: alice, action: "block", ports: ["22"] },
          { id: "allow-all", owner: alice, action: "allow" },
        ],
      }),
    );
    expect(evaluate(acl, request({ port: 22 })).ruleId).toBe("block-ssh");
    expect(evaluate(acl, request({ port: 443 })).ruleId).toBe("allow-all");
  });
});

describe("evaluate: principals", () => {
  const acl = compileAcl(
    testSnapshot({
      ...aliceInDevelopers,
      acl: { enabled: true, defaultPolicy: "block" },
      rules: [
        {
          id: "dev",
          owner: developers,
          destinations: ["*.dev.example"],
          description: "Dev servers",
        },
        { id: "alice-own", owner: alice, destinations: ["alice.example"] },
        {
          id: "anon",
          owner: { kind: "user", name: "anonymous" },
          destinations: ["public.example"],
        },
        { id: "ghost", owner: { kind: "user", name: "pam-user" }, destinations: ["pam.example"] },
      ],
    }),
  );

  it("gives users the rules of their groups", () => {
    expect(evaluate(acl, request({ host: "x.dev.example" })).ruleId).toBe("dev");
    expect(evaluate(acl, request({ user: "bob", host: "x.dev.example" })).ruleId).toBeNull();
  });

  it("never applies another user's rules", () => {
    expect(evaluate(acl, request({ user: "bob", host: "alice.example" })).ruleId).toBeNull();
  });

  it("evaluates the anonymous user like any other name", () => {
    expect(evaluate(acl, request({ user: "anonymous", host: "public.example" })).ruleId).toBe(
      "anon",
    );
    expect(evaluate(acl, request({ user: "anonymous", host: "x.dev.example" })).ruleId).toBeNull();
  });

  it("gives a user absent from the users list only their own rules", () => {
    expect(evaluate(acl, request({ user: "pam-user", host: "pam.example" })).ruleId).toBe("ghost");
    expect(evaluate(acl, request({ user: "nobody", host: "pam.example" })).ruleId).toBeNull();
  });

  it("applies the default policy when nothing matches", () => {
    expect(evaluate(acl, request({ host: "elsewhere.example" }))).toEqual({
      action: "block",
      ruleId: null,
      rule: null,
      reason: "default policy block",
    });
    const open = compileAcl(testSnapshot({ acl: { enabled: true, defaultPolicy: "allow" } }));
    expect(evaluate(open, request())).toMatchObject({
      action: "allow",
      reason: "default policy allow",
    });
  });

  it("names the deciding rule in the reason", () => {
    const decision = evaluate(acl, request({ host: "x.dev.example" }));
    expect(decision.reason).toBe('rule dev "Dev servers" (group developers)');
    expect(decision.rule?.id).toBe("dev");
    expect(evaluate(acl, request({ host: "alice.example" })).reason).toBe(
      "rule alice-own (user alice)",
    );
  });

  it("allows everything when the ACL is disabled", () => {
    const off = compileAcl(
      testSnapshot({
        acl: { enabled: false, defaultPolicy: "block" },
        rules: [{ id: "b", owner: alice, action: "block" }],
      }),
    );
    expect(evaluate(off, request())).toEqual({
      action: "allow",
      ruleId: null,
      rule: null,
      reason: "acl disabled",
    });
  });
});

describe("evaluate: DNS rebinding", () => {
  const acl = compileAcl(
    testSnapshot({
      acl: { enabled: true, defaultPolicy: "allow" },
      rules: [
        {
          id: "no-private",
          owner: alice,
          action: "block",
          destinations: ["10.0.0.0/8", "fc00::/7"],
        },
        {
          id: "allow-name",
          owner: alice,
          action: "allow",
          destinations: ["rebind.attacker.example"],
          priority: 9999,
        },
      ],
    }),
  );

  it("blocks a name that resolves into a blocked CIDR, even when the name is allowed", () => {
    expect(evaluate(acl, request({ host: "rebind.attacker.example" })).action).toBe("allow");
    expect(
      evaluate(acl, request({ host: "rebind.attacker.example", address: "10.1.2.3" })),
    ).toMatchObject({
      action: "block",
      ruleId: "no-private",
    });
    expect(
      evaluate(acl, request({ host: "rebind.attacker.example", address: "::ffff:10.1.2.3" }))
        .ruleId,
    ).toBe("no-private");
    expect(
      evaluate(acl, request({ host: "rebind.attacker.example", address: "fd00::1" })).ruleId,
    ).toBe("no-private");
    expect(
      evaluate(acl, request({ host: "rebind.attacker.example", address: "93.184.216.34" })).ruleId,
    ).toBe("allow-name");
  });
});

describe("explain", () => {
  const acl = compileAcl(
    testSnapshot({
      ...aliceInDevelopers,
      rules: [
        { id: "dev", owner: developers, destinations: ["*.dev.example"] },
        { id: "ssh-block", owner: alice, action: "block", ports: ["22"] },
        { id: "other", owner: { kind: "user", name: "bob" } },
      ],
    }),
  );

  it("lists the user's rules in evaluation order with whether each matched", () => {
    const result = explain(acl, request({ host: "a.dev.example", port: 22 }));
    expect(result.decision.ruleId).toBe("ssh-block");
    expect(result.considered.map((c) => [c.rule.id, c.matched])).toEqual([
      ["ssh-block", true],
      ["dev", true],
    ]);
    expect(
      explain(acl, request({ host: "a.dev.example", port: 443 })).considered.map((c) => c.matched),
    ).toEqual([false, true]);
  });
});

describe("compiled ACL", () => {
  it("returns the same frozen decision object every time (no allocation per call)", () => {
    const acl = compileAcl(testSnapshot({ rules: [{ id: "r", owner: alice }] }));
    const first = evaluate(acl, request());
    expect(evaluate(acl, request())).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(acl)).toBe(true);
  });

  it("shares one index between users with the same groups and no rules of their own", () => {
    const acl = compileAcl(
      testSnapshot({
        users: [
          { username: "u1", groups: ["g1", "g2"] },
          { username: "u2", groups: ["g2", "g1"] },
        ],
        groups: [{ name: "g1" }, { name: "g2" }],
        rules: [{ id: "r", owner: { kind: "group", name: "g1" } }],
      }),
    );
    expect(acl.indexFor("u1")).toBe(acl.indexFor("u2"));
    expect(acl.indexFor("stranger")).toBe(acl.indexFor("another-stranger"));
  });
});
