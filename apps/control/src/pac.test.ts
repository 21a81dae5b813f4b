import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { buildPac, orderRelays, pacRelays } from "./pac";
import { parseClientAddress, parsePacRegions, regionOrder } from "./pac-regions";
import { startTestControl } from "./test-support/control";
import { registerRelay } from "./test-support/ctl";

const regions = parsePacRegions(
  "10.1.0.0/16=eu-west;10.0.0.0/8=us-east,eu-west;2001:db8::/32=ap-south;country:in=ap-south;default=us-east,eu-west,ap-south",
);
const order = (ip: string, country?: string) =>
  regionOrder(regions, { address: parseClientAddress(ip), country });

describe("PAC region mapping", () => {
  it("orders regions by the most specific matching network, then country, then the default", () => {
    expect(order("10.1.2.3")).toEqual(["eu-west", "us-east", "ap-south"]);
    expect(order("::ffff:10.9.9.9")).toEqual(["us-east", "eu-west", "ap-south"]);
    expect(order("2001:db8::5")).toEqual(["ap-south", "us-east", "eu-west"]);
    expect(order("192.0.2.1", "IN")).toEqual(["ap-south", "us-east", "eu-west"]);
    expect(order("10.1.2.3", "IN")[0]).toBe("eu-west");
    expect(order("192.0.2.1")).toEqual(["us-east", "eu-west", "ap-south"]);
  });

  it("reads the same mapping from a JSON file, with header and DIRECT settings", () => {
    const fromFile = parsePacRegions("/etc/edgesocks/pac.json", () =>
      JSON.stringify({
        networks: { "10.1.0.0/16": ["eu-west"] },
        countries: { DE: ["eu-west"] },
        default: ["us-east"],
        direct: true,
        countryHeader: "CF-IPCountry",
        addressHeader: "X-Forwarded-For",
      }),
    );
    expect(fromFile).toMatchObject({
      defaultOrder: ["us-east"],
      direct: true,
      countryHeader: "cf-ipcountry",
      addressHeader: "x-forwarded-for",
    });
    expect(regionOrder(fromFile, { address: undefined, country: "de" })).toEqual([
      "eu-west",
      "us-east",
    ]);
    expect(parsePacRegions("")).toMatchObject({ networks: [], defaultOrder: [], direct: false });
  });

  it("names the bad entry, with the code of an environment error", () => {
    const bad = (text: string) => () => parsePacRegions(text, () => "{not json");
    expect(bad("10.0.0.0/33=eu-west")).toThrow(
      'EDGESOCKS_PAC_REGIONS: "10.0.0.0/33" is not a CIDR',
    );
    expect(bad("default=")).toThrow("EDGESOCKS_PAC_REGIONS: default: at least one region");
    expect(bad("10.0.0.0/8=eu west")).toThrow("networks.10.0.0.0/8.0: a region name");
    expect(bad("country:Germany=eu-west")).toThrow('country "Germany": an ISO 3166-1 alpha-2');
    expect(bad("direct=maybe")).toThrow("EDGESOCKS_PAC_REGIONS: direct:");
    expect(bad("eu-west,us-east;x")).toThrow('"eu-west,us-east" is not KEY=VALUE');
    expect(bad("/etc/pac.json")).toThrow("EDGESOCKS_PAC_REGIONS: /etc/pac.json: ");
    expect(bad("10.0.0.0/33=eu-west")).toThrow(expect.objectContaining({ code: "CONTROL_E_ENV" }));
  });
});

describe("PAC file", () => {
  const relays = [
    { name: "relay-ap", region: "ap-south", address: "203.0.113.3:1080" },
    { name: "relay-eu", region: "eu-west", address: "203.0.113.1:1080" },
    { name: "relay-us", region: "us-east", address: "203.0.113.2:1080" },
    { name: "relay-zz", region: "zz-unlisted", address: "[2001:db8::9]:1080" },
  ];

  it("lists every relay nearest first, SOCKS5 then SOCKS, unlisted regions last, no DIRECT", () => {
    const pac = buildPac(relays, {
      order: order("10.1.2.3"),
      direct: false,
      clientKey: "10.1.2.3",
    });
    expect(pac).toContain(
      'return "SOCKS5 203.0.113.1:1080; SOCKS 203.0.113.1:1080; SOCKS5 203.0.113.2:1080; SOCKS 203.0.113.2:1080; SOCKS5 203.0.113.3:1080; SOCKS 203.0.113.3:1080; SOCKS5 [2001:db8::9]:1080; SOCKS [2001:db8::9]:1080";',
    );
    expect(pac).toMatch(/^function FindProxyForURL\(url, host\) \{$/m);
    expect(buildPac(relays, { order: [], direct: true, clientKey: "" })).toMatch(/; DIRECT";/);
    expect(buildPac([], { order: [], direct: false, clientKey: "" })).toContain('return "DIRECT";');
  });

  it("spreads clients over one region's relays, each client always seeing the same order", () => {
    const three = ["a", "b", "c"].map((n) => ({
      name: `relay-${n}`,
      region: "eu-west",
      address: `${n}.example:1080`,
    }));
    const firsts = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const client = `10.0.0.${i}`;
      const once = orderRelays(three, ["eu-west"], client).map((r) => r.name);
      expect(orderRelays(three, ["eu-west"], client).map((r) => r.name)).toEqual(once);
      firsts.add(once[0]!);
    }
    expect(firsts.size).toBe(3);
  });

  it("lists healthy relays only; when none is, every relay ever heard from; never bad addresses", () => {
    const nowMs = 1_000_000;
    const rows = [
      { name: "fresh", region: "eu", publicAddress: "192.0.2.1:1080", lastSeenAtMs: nowMs - 1000 },
      { name: "old", region: "eu", publicAddress: "192.0.2.2:1080", lastSeenAtMs: nowMs - 60_000 },
      { name: "never", region: "eu", publicAddress: "192.0.2.3:1080", lastSeenAtMs: null },
      { name: "evil", region: "eu", publicAddress: '1.2.3.4:1; DIRECT"', lastSeenAtMs: nowMs },
    ];
    const bad: string[] = [];
    const options = {
      nowMs,
      heartbeatStaleMs: 30_000,
      onBadAddress: (r: { name: string }) => bad.push(r.name),
    };
    expect(pacRelays(rows, options)).toEqual({
      relays: [{ name: "fresh", region: "eu", address: "192.0.2.1:1080" }],
      stale: false,
    });
    expect(bad).toEqual(["evil"]);
    expect(pacRelays(rows.slice(1, 3), options)).toEqual({
      relays: [{ name: "old", region: "eu", address: "192.0.2.2:1080" }],
      stale: true,
    });
  });
});

/** GET /proxy.pac from a chosen loopback source address, so one test can be two clients. */
function fetchPac(url: string, localAddress: string, headers: Record<string, string> = {}) {
  return new Promise<{
    status: number;
    type: string | undefined;
    cache: string | undefined;
    body: string;
  }>((resolve, reject) => {
    const req = request(`${url}/proxy.pac`, { localAddress, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers["content-type"],
          cache: res.headers["cache-control"],
          body,
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

const proxies = (pac: string) => /return "([^"]*)";/.exec(pac)?.[1];

describe("GET /proxy.pac", () => {
  it("serves healthy relays nearest-first: a mapped network gets its region first, others the default", async () => {
    await using control = await startTestControl({
      pacRegions: parsePacRegions(
        "127.0.0.2/32=ap-south,eu-west;country:US=us-east;default=eu-west,us-east,ap-south",
      ),
    });
    for (const [name, region, address] of [
      ["relay-eu", "eu-west", "192.0.2.1:1080"],
      ["relay-ap", "ap-south", "192.0.2.2:1080"],
      ["relay-us", "us-east", "relay-us.example.com:1080"],
    ] as const) {
      await registerRelay(control, { name, region, publicAddress: address });
    }
    // Enrolled with an address, never heard from: not healthy.
    await registerRelay(control, {
      name: "relay-quiet",
      region: "eu-west",
      publicAddress: "192.0.2.9:1080",
      heartbeat: false,
    });
    const url = control.app.server.url;

    const mapped = await fetchPac(url, "127.0.0.2");
    expect(mapped).toMatchObject({
      status: 200,
      type: "application/x-ns-proxy-autoconfig",
      cache: "private, max-age=60",
    });
    expect(proxies(mapped.body)).toBe(
      "SOCKS5 192.0.2.2:1080; SOCKS 192.0.2.2:1080; SOCKS5 192.0.2.1:1080; SOCKS 192.0.2.1:1080; SOCKS5 relay-us.example.com:1080; SOCKS relay-us.example.com:1080",
    );
    const other = await fetchPac(url, "127.0.0.1");
    expect(proxies(other.body)).toBe(
      "SOCKS5 192.0.2.1:1080; SOCKS 192.0.2.1:1080; SOCKS5 relay-us.example.com:1080; SOCKS relay-us.example.com:1080; SOCKS5 192.0.2.2:1080; SOCKS 192.0.2.2:1080",
    );
    const american = await fetchPac(url, "127.0.0.1", { "x-client-country": "us" });
    expect(proxies(american.body)?.startsWith("SOCKS5 relay-us.example.com:1080;")).toBe(true);
    // The network beats the country header.
    const both = await fetchPac(url, "127.0.0.2", { "x-client-country": "US" });
    expect(proxies(both.body)?.startsWith("SOCKS5 192.0.2.2:1080;")).toBe(true);
    expect(mapped.body + other.body).not.toContain("192.0.2.9");
    const post = await fetch(`${url}/proxy.pac`, { method: "POST" });
    expect(post.status).toBe(405);
  });

  it("maps by a forwarded address when the mapping names the header a proxy in front sets", async () => {
    await using control = await startTestControl({
      pacRegions: parsePacRegions(
        "address-header=x-forwarded-for;10.0.0.0/8=ap-south;default=eu-west",
      ),
    });
    await registerRelay(control, {
      name: "relay-eu",
      region: "eu-west",
      publicAddress: "192.0.2.1:1080",
    });
    await registerRelay(control, {
      name: "relay-ap",
      region: "ap-south",
      publicAddress: "192.0.2.2:1080",
    });
    const pac = await fetchPac(control.app.server.url, "127.0.0.1", {
      "x-forwarded-for": "203.0.113.50, 10.20.30.40",
    });
    expect(proxies(pac.body)?.startsWith("SOCKS5 192.0.2.2:1080;")).toBe(true);
  });
});
