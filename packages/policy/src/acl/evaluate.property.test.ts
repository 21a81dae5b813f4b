import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import type { AclRule, PolicySnapshot } from "../snapshot";
import { testSnapshot } from "../test-snapshot";
import { compileAcl } from "./compile";
import { evaluate, explain } from "./evaluate";
import type { AclRequest, Decision } from "./types";

/*
 * The index must decide exactly as a plain scan over every rule does. The reference below shares
 * no code with the engine: ipaddr.js for addresses, string handling for names.
 */

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

function parseIp(text: string): Addr | null {
  const bare = text.split("%")[0]!;
  if (!ipaddr.isValid(bare)) return null;
  if (!bare.includes(":") && !ipaddr.IPv4.isValidFourPartDecimal(bare)) return null;
  const addr = ipaddr.parse(bare);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address();
  }
  return addr;
}

function ipMatches(pattern: string, addr: Addr): boolean {
  const [base, bits] = pattern.includes("/") ? pattern.split("/") : [pattern, undefined];
  let net = ipaddr.parse(base!);
  let prefix = bits === undefined ? (net.kind() === "ipv4" ? 32 : 128) : Number(bits);
  if (net.kind() === "ipv6" && prefix >= 96 && (net as ipaddr.IPv6).isIPv4MappedAddress()) {
    net = (net as ipaddr.IPv6).toIPv4Address();
    prefix -= 96;
  }
  return net.kind() === addr.kind() && addr.match(net, prefix);
}

function globMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, "");
  if (p.startsWith("*.") && !p.slice(2).includes("*")) return name.endsWith(p.slice(1));
  const source = p
    .split(".")
    .map((label, i) =>
      i === 0 && label === "*" ? "(?:[^.]+\\.)*[^.]+" : label.replace(/\*+/g, "[^.]+"),
    )
    .join("\\.");
  return new RegExp(`^${source}$`).test(name);
}

function destinationMatches(pattern: string, req: AclRequest): boolean {
  if (pattern === "*") return true;
  const hostIp = parseIp(req.host);
  const ips = [hostIp, req.address === undefined ? null : parseIp(req.address)].filter(
    (a) => a !== null,
  );
  if (pattern.includes(":") || pattern.includes("/") || parseIp(pattern) !== null) {
    return ips.some((addr) => ipMatches(pattern, addr));
  }
  if (hostIp !== null) return false;
  const name = req.host.toLowerCase().replace(/\.$/, "");
  if (pattern.includes("*")) return globMatches(pattern, name);
  return name === pattern.toLowerCase().replace(/\.$/, "");
}

function portMatches(spec: string, port: number): boolean {
  if (spec === "*") return true;
  return spec.split(",").some((item) => {
    const [lo, hi = lo] = item.split("-").map(Number);
    return port >= lo! && port <= hi!;
  });
}

function referenceEvaluate(
  snapshot: PolicySnapshot,
  req: AclRequest,
): Decision | { ruleId: string | null } {
  if (!snapshot.acl.enabled) return { ruleId: null };
  const groups = snapshot.users.find((u) => u.username === req.user)?.groups ?? [];
  const matching = snapshot.rules
    .map((rule, index) => ({ rule, index }))
    .filter(({ rule }) =>
      rule.owner.kind === "user" ? rule.owner.name === req.user : groups.includes(rule.owner.name),
    )
    .filter(
      ({ rule }) =>
        rule.protocols.some((p) => p === "both" || p === req.protocol) &&
        rule.ports.some((spec) => portMatches(spec, req.port)) &&
        rule.destinations.some((d) => destinationMatches(d, req)),
    )
    .sort(
      (a, b) =>
        (a.rule.action === "block" ? 0 : 1) - (b.rule.action === "block" ? 0 : 1) ||
        b.rule.priority - a.rule.priority ||
        a.index - b.index,
    );
  return { ruleId: matching[0]?.rule.id ?? null };
}

// Small universes, so rules and requests collide often.
const NAMES = [
  "example.com",
  "a.example.com",
  "b.a.example.com",
  "api.foo.com",
  "api.bar.org",
  "corp.io",
  "prod-1.corp.io",
  "x.y.z",
];
const NAME_PATTERNS = [
  ...NAMES,
  "*.example.com",
  "*.com",
  "api.*.com",
  "prod-*.corp.io",
  "*.a.*",
  "*.corp.io",
  "API.Foo.com.",
];
const V4 = ["10.0.0.1", "10.1.2.3", "10.255.0.9", "192.168.1.1", "192.168.1.200", "8.8.8.8"];
const V6 = ["2001:db8::1", "2001:db8:0:1::5", "2001:db8:ffff::1", "fe80::1", "::1"];
const IPS = [...V4, ...V6, ...V4.map((a) => `::ffff:${a}`)];

const ipPattern = fc.oneof(
  fc.constantFrom(...V4, ...V6),
  fc.tuple(fc.constantFrom(...V4), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.constantFrom(...V6), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
  fc
    .tuple(fc.constantFrom(...V4), fc.integer({ min: 96, max: 128 }))
    .map(([a, p]) => `::ffff:${a}/${p}`),
);
const destination = fc.oneof(fc.constant("*"), fc.constantFrom(...NAME_PATTERNS), ipPattern);
const portSpec = fc.oneof(
  fc.constant("*"),
  fc.constantFrom("22", "80", "443"),
  fc.constantFrom("80,443", "8000-9000", "1-1024", "443,8000-8443"),
);
const USERS = ["alice", "bob", "carol", "anonymous"];
const GROUPS = ["g1", "g2", "g3"];
const owner = fc.oneof(
  fc.constantFrom(...USERS).map((name) => ({ kind: "user" as const, name })),
  fc.constantFrom(...GROUPS).map((name) => ({ kind: "group" as const, name })),
);
const rule = fc.record({
  owner,
  action: fc.constantFrom("allow" as const, "block" as const),
  destinations: fc.array(destination, { minLength: 1, maxLength: 3 }),
  ports: fc.array(portSpec, { minLength: 1, maxLength: 2 }),
  protocols: fc.constantFrom<AclRule["protocols"]>(["tcp"], ["udp"], ["both"], ["tcp", "udp"]),
  priority: fc.constantFrom(0, 10, 50, 100),
});
const snapshotArb = fc
  .record({
    rules: fc.array(rule, { maxLength: 30 }),
    memberships: fc.array(fc.subarray(GROUPS), { minLength: 3, maxLength: 3 }),
    defaultPolicy: fc.constantFrom("allow" as const, "block" as const),
    enabled: fc.boolean(),
  })
  .map(({ rules, memberships, defaultPolicy, enabled }) =>
    testSnapshot({
      acl: { enabled: enabled || rules.length % 7 !== 0, defaultPolicy },
      groups: GROUPS.map((name) => ({ name })),
      users: memberships.map((groups, i) => ({ username: USERS[i]!, groups })),
      rules: rules.map((r, i) => ({ ...r, id: `r${i}` })),
    }),
  );
const host = fc.oneof(
  fc
    .constantFrom(...NAMES)
    .chain((name) =>
      fc
        .tuple(fc.boolean(), fc.boolean())
        .map(([upper, dot]) => (upper ? name.toUpperCase() : name) + (dot ? "." : "")),
    ),
  fc.constantFrom(...IPS),
  fc.constantFrom("unknown.test", "127.1", ""),
);
const requestArb = fc.record({
  user: fc.constantFrom(...USERS, "stranger"),
  host,
  address: fc.option(fc.constantFrom(...IPS), { nil: undefined }),
  port: fc.constantFrom(22, 80, 443, 8080, 8443, 9000, 50000),
  protocol: fc.constantFrom("tcp" as const, "udp" as const),
});

describe("evaluate (property)", () => {
  it("decides as a linear scan over every rule does", () => {
    fc.assert(
      fc.property(
        snapshotArb,
        fc.array(requestArb, { minLength: 1, maxLength: 20 }),
        (snapshot, requests) => {
          const acl = compileAcl(snapshot);
          for (const req of requests) {
            const expected = referenceEvaluate(snapshot, req).ruleId;
            const decision = evaluate(acl, req);
            expect(decision.ruleId, JSON.stringify(req)).toBe(expected);
            const action =
              expected === null
                ? snapshot.acl.enabled
                  ? snapshot.acl.defaultPolicy
                  : "allow"
                : decision.rule?.action;
            expect(decision.action).toBe(action);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("explains what it decides: the first matching rule considered is the deciding one", () => {
    fc.assert(
      fc.property(snapshotArb, requestArb, (snapshot, req) => {
        const acl = compileAcl(snapshot);
        const { decision, considered } = explain(acl, req);
        expect(decision).toBe(evaluate(acl, req));
        const first = considered.find((c) => c.matched);
        expect(first?.rule.id ?? null).toBe(decision.ruleId);
      }),
      { numRuns: 300 },
    );
  });
});
