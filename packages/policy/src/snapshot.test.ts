import { describe, expect, it } from "vitest";
import { compileAcl } from "./acl/compile";
import { PolicyError } from "./errors";
import { type PolicySnapshot, sealSnapshot, snapshotHash, validateSnapshot } from "./snapshot";
import { testSnapshot } from "./test-snapshot";

function plain(snapshot: PolicySnapshot): Record<string, unknown> {
  return JSON.parse(JSON.stringify(snapshot));
}

// biome-ignore lint/suspicious/noExplicitAny: tests edit arbitrary, deliberately wrong JSON
type WireJson = any;

/** A wire copy of a valid snapshot after `edit`; the hash is left stale, as shape errors come first. */
function edited(edit: (s: WireJson) => void): unknown {
  const copy: WireJson = plain(testSnapshot(valid));
  edit(copy);
  return copy;
}

const valid = {
  users: [
    {
      username: "alice",
      groups: ["developers"],
      passwordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    },
    {
      username: "bob",
      password: "hunter2",
      maxConnections: 10,
      qos: { maxBytesPerSec: 1_000_000 },
    },
  ],
  groups: [{ name: "developers", maxConnectionsPerUser: 5 }],
  rules: [
    {
      id: "r1",
      owner: { kind: "group" as const, name: "developers" },
      destinations: ["*.dev.example", "10.0.0.0/8"],
    },
    {
      id: "r2",
      owner: { kind: "user" as const, name: "alice" },
      action: "block" as const,
      ports: ["22"],
    },
  ],
};

function errorOf(input: unknown): string {
  const result = validateSnapshot(input);
  if (result.ok) throw new Error("expected the snapshot to be rejected");
  return result.error;
}

describe("validateSnapshot", () => {
  it("accepts a sealed snapshot sent over the wire, fills defaults and freezes it", () => {
    const result = validateSnapshot(plain(testSnapshot(valid)));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.snapshot.auth.anonymousUser).toBe("anonymous");
    expect(result.snapshot.users[1]!.enabled).toBe(true);
    expect(result.snapshot.rules[0]!.protocols).toEqual(["both"]);
    expect(result.snapshot.rules[0]!.priority).toBe(0);
    expect(result.snapshot.qos.fairSharing).toBe(true);
    expect(Object.isFrozen(result.snapshot.rules[0]!.destinations)).toBe(true);
  });

  it("names the path of an unknown group", () => {
    const input = edited((s) => {
      s.users[0].groups = ["developers", "ops"];
    });
    expect(errorOf(input)).toBe('users[0].groups[1]: unknown group "ops"');
  });

  it("names the path of a bad destination and a bad port", () => {
    const input = edited((s) => {
      s.rules[1].destinations = ["*", "10.0.0.0/33"];
      s.rules[1].ports = ["70000"];
    });
    expect(errorOf(input).split("\n")).toEqual([
      'rules[1].destinations[1]: "10.0.0.0/33" is not a valid CIDR (prefix must be 0-32)',
      'rules[1].ports[0]: "70000" is not a port (0-65535)',
    ]);
  });

  it("reports duplicate usernames, groups and rule ids", () => {
    const input = edited((s) => {
      s.users.push({ username: "alice", groups: [] });
      s.groups.push({ name: "developers" });
      s.rules.push({ ...s.rules[0] });
    });
    expect(errorOf(input).split("\n")).toEqual([
      'groups[1].name: duplicate group "developers" (first at groups[0])',
      'users[2].username: duplicate username "alice" (first at users[0])',
      'rules[2].id: duplicate rule id "r1" (first at rules[0])',
    ]);
  });

  it("reports a rule owned by an unknown group", () => {
    const input = edited((s) => {
      s.rules[0].owner.name = "ghosts";
    });
    expect(errorOf(input)).toBe('rules[0].owner.name: unknown group "ghosts"');
  });

  it("reports wrong types, unknown keys and bad enums with their paths", () => {
    const input = edited((s) => {
      s.version = -1;
      s.acl.defaultPolicy = "deny";
      s.rules[0].protocols = ["icmp"];
      s.users[0].passwordHash = "plaintext";
      s.users[0].nickname = "al";
      s.auth.methods = [];
    });
    const lines = errorOf(input).split("\n");
    expect(lines).toContain("version: Too small: expected number to be >=0");
    expect(lines).toContain('acl.defaultPolicy: Invalid option: expected one of "allow"|"block"');
    expect(lines).toContain(
      'rules[0].protocols[0]: Invalid option: expected one of "tcp"|"udp"|"both"',
    );
    expect(lines).toContain('users[0].passwordHash: must be an argon2id hash ("$argon2id$...")');
    expect(lines).toContain('users[0]: Unrecognized key: "nickname"');
    expect(lines.some((l) => l.startsWith("auth.methods: Too small"))).toBe(true);
  });

  it("refuses a username longer than 255 bytes of UTF-8", () => {
    const input = edited((s) => {
      s.users[1].username = "é".repeat(128);
    });
    expect(errorOf(input)).toBe("users[1].username: must be at most 255 bytes of UTF-8");
  });

  it("refuses both password and passwordHash on one user", () => {
    const input = edited((s) => {
      s.users[0].password = "x";
    });
    expect(errorOf(input)).toBe("users[0].password: set either passwordHash or password, not both");
  });

  it("refuses a snapshot whose hash does not match its content", () => {
    const input = edited((s) => {
      s.rules[1].action = "allow";
    });
    expect(errorOf(input)).toMatch(
      /^hash: "[0-9a-f]{64}" does not match the snapshot content \(sha256 [0-9a-f]{64}\)$/,
    );
  });

  it("refuses anything that is not an object", () => {
    expect(errorOf(null)).toMatch(/expected object/);
    expect(errorOf("{}")).toMatch(/expected object/);
  });
});

describe("snapshotHash and sealSnapshot", () => {
  it("does not depend on key order or on the hash field", () => {
    const snapshot = testSnapshot(valid);
    const reordered = Object.fromEntries(
      Object.entries(plain(snapshot)).reverse(),
    ) as PolicySnapshot;
    expect(snapshotHash(reordered)).toBe(snapshot.hash);
    expect(snapshotHash({ ...snapshot, hash: "f".repeat(64) })).toBe(snapshot.hash);
  });

  it("changes with any content", () => {
    const a = testSnapshot(valid);
    const b = testSnapshot({ ...valid, version: 2 });
    expect(a.hash).not.toBe(b.hash);
  });

  it("reports drafts it cannot seal", () => {
    const result = sealSnapshot({ ...testSnapshot(valid), users: [{ username: "" }] });
    expect(result).toEqual({
      ok: false,
      error: "users[0].username: Too small: expected string to have >=1 characters",
    });
  });
});

describe("compileAcl", () => {
  it("throws PolicyError naming the path when given an unvalidated bad rule", () => {
    const snapshot = { ...testSnapshot(valid) };
    snapshot.rules = [{ ...snapshot.rules[0]!, destinations: ["ok.example", "bad/99"] }];
    try {
      compileAcl(snapshot);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyError);
      expect((error as PolicyError).code).toBe("POLICY_E_INVALID");
      expect((error as PolicyError).path).toBe("rules[0].destinations[1]");
    }
  });
});
