import { describe, expect, it } from "vitest";
import { MAX_ROUTE_HOPS } from "./route";
import { sealSnapshot, validateSnapshot } from "./snapshot";
import { testSnapshot } from "./test-snapshot";

const parent = { type: "socks5" as const, host: "127.0.0.1", port: 1081 };

function routed(routes: unknown, route = "via-parent") {
  return sealSnapshot({
    version: 1,
    epoch: "test",
    createdAt: "2025-01-01T00:00:00Z",
    auth: { methods: ["none"] },
    acl: { enabled: true, defaultPolicy: "block" },
    users: [],
    groups: [],
    qos: { enabled: false },
    rules: [
      {
        id: "r1",
        owner: { kind: "user", name: "anonymous" },
        action: "allow",
        destinations: ["*"],
        ports: ["*"],
        route,
      },
    ],
    // biome-ignore lint/suspicious/noExplicitAny: tests feed deliberately wrong routes
    routes: routes as any,
  });
}

function errorOf(result: ReturnType<typeof routed>): string {
  if (result.ok) throw new Error("expected the snapshot to be refused");
  return result.error;
}

describe("routes in the snapshot", () => {
  it("accepts a route with every hop kind and fills the health defaults", () => {
    const result = routed([
      {
        name: "via-parent",
        resolve: "remote",
        chains: [
          {
            hops: [
              { ...parent, username: "u", password: "p" },
              { type: "socks4a", host: "localhost", port: 1080, userId: "relay" },
              { type: "http", host: "::1", port: 3128, username: "u", password: "p:w" },
            ],
          },
          { hops: [parent] },
        ],
      },
    ]);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const route = result.snapshot.routes![0]!;
    expect(route).toMatchObject({ selector: "failover", maxFails: 1, failTimeoutSecs: 30 });
    expect(validateSnapshot(JSON.parse(JSON.stringify(result.snapshot))).ok).toBe(true);
  });

  it("keeps the hash of a snapshot without routes (the key is absent, not defaulted)", () => {
    const snapshot = testSnapshot();
    expect("routes" in snapshot).toBe(false);
  });

  it("refuses a rule naming an unknown route, listing the defined ones", () => {
    const result = routed([{ name: "other", resolve: "local", chains: [{ hops: [parent] }] }]);
    expect(errorOf(result)).toBe('rules[0].route: unknown route "via-parent" (routes: other)');
    expect(errorOf(routed(undefined))).toBe(
      'rules[0].route: unknown route "via-parent" (the snapshot defines no routes)',
    );
  });

  it("refuses a block rule that names a route", () => {
    const result = sealSnapshot({
      ...testSnapshot(),
      routes: [{ name: "r", resolve: "local", chains: [{ hops: [parent] }] }],
      rules: [
        {
          id: "b",
          owner: { kind: "user", name: "x" },
          action: "block",
          destinations: ["*"],
          ports: ["*"],
          route: "r",
        },
      ],
    });
    expect(result.ok ? "" : result.error).toBe(
      "rules[0].route: only an allow rule can name a route (a block rule reaches nothing)",
    );
  });

  it("refuses duplicates, missing resolve, half credentials, too many hops and unknown keys", () => {
    const lines = errorOf(
      routed([
        { name: "via-parent", resolve: "remote", chains: [{ hops: [parent] }] },
        { name: "via-parent", resolve: "local", chains: [{ hops: [parent] }] },
        { name: "x", chains: [{ hops: [{ ...parent, username: "u" }] }] },
        {
          name: "y",
          resolve: "local",
          chains: [{ hops: Array.from({ length: MAX_ROUTE_HOPS + 1 }, () => parent) }],
        },
        {
          name: "z",
          resolve: "local",
          chains: [{ hops: [{ type: "socks4a", host: "127.0.0.1", port: 1, password: "p" }] }],
        },
        { name: "w", resolve: "local", chains: [{ hops: [{ ...parent, host: "a b" }] }] },
        { name: "v", resolve: "local", chains: [{ hops: [{ ...parent, type: "socks6" }] }] },
      ]),
    ).split("\n");
    expect(lines).toContain('routes[2].resolve: Invalid option: expected one of "local"|"remote"');
    expect(lines).toContain(
      "routes[2].chains[0].hops[0].password: set username and password together, or neither",
    );
    expect(lines.some((l) => l.startsWith("routes[3].chains[0].hops: Too big"))).toBe(true);
    expect(lines).toContain('routes[4].chains[0].hops[0]: Unrecognized key: "password"');
    expect(lines).toContain(
      "routes[5].chains[0].hops[0].host: must be an IPv4 or IPv6 address (no brackets) or a DNS name",
    );
    expect(lines.some((l) => l.startsWith("routes[6].chains[0].hops[0].type:"))).toBe(true);
  });

  it("accepts proxyProtocol v1 or v2 on a chain and refuses any other value", () => {
    const ok = routed([
      {
        name: "via-parent",
        resolve: "remote",
        chains: [
          { proxyProtocol: "v2", hops: [parent] },
          { proxyProtocol: "v1", hops: [parent] },
        ],
      },
    ]);
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.snapshot.routes![0]!.chains[0]!.proxyProtocol).toBe("v2");
    const refused = routed([
      { name: "via-parent", resolve: "remote", chains: [{ proxyProtocol: "v3", hops: [parent] }] },
    ]);
    expect(errorOf(refused)).toBe(
      'routes[0].chains[0].proxyProtocol: must be "v1" or "v2" (PROXY protocol version for the first hop)',
    );
  });

  it("leaves a chain without proxyProtocol as it was (no key added, so its hash is unchanged)", () => {
    const result = routed([
      { name: "via-parent", resolve: "remote", chains: [{ hops: [parent] }] },
    ]);
    expect(result.ok).toBe(true);
    if (result.ok) expect("proxyProtocol" in result.snapshot.routes![0]!.chains[0]!).toBe(false);
  });

  it("reports a duplicate route name", () => {
    const result = routed([
      { name: "via-parent", resolve: "remote", chains: [{ hops: [parent] }] },
      { name: "via-parent", resolve: "local", chains: [{ hops: [parent] }] },
    ]);
    expect(errorOf(result)).toBe(
      'routes[1].name: duplicate route "via-parent" (first at routes[0])',
    );
  });

  it("refuses a username with a colon on an HTTP hop (Basic cannot carry it)", () => {
    const result = routed([
      {
        name: "via-parent",
        resolve: "local",
        chains: [
          {
            hops: [{ type: "http", host: "127.0.0.1", port: 3128, username: "a:b", password: "p" }],
          },
        ],
      },
    ]);
    expect(errorOf(result)).toBe(
      'routes[0].chains[0].hops[0].username: must not contain ":" (Basic credentials)',
    );
  });
});
