import { request } from "node:http";
import type { AppRouter } from "@edgesocks/api";
import { createTRPCClient, httpLink } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestControl, type TestControl } from "./test-support/control";

/** GET with any Host header (fetch cannot set one). */
function get(url: string, host: string, path = "/trpc/whoami") {
  const { hostname, port } = new URL(url);
  return new Promise<number>((resolve, reject) => {
    request({ hostname, port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", reject)
      .end();
  });
}

function upgrade(wsUrl: string, host: string) {
  return new Promise<string>((resolve) => {
    const ws = new WebSocket(wsUrl, { headers: { host } });
    ws.on("open", () => {
      ws.close();
      resolve("open");
    });
    ws.on("unexpected-response", (_req, res) => resolve(String(res.statusCode)));
    ws.on("error", () => resolve("error"));
  });
}

/** An HTTP client whose requests claim to come through a proxy for `forwardedFor`. */
function via(control: TestControl, forwardedFor: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${control.app.server.url}/trpc`,
        headers: { "x-forwarded-for": forwardedFor },
      }),
    ],
  });
}

const codeOf = (call: Promise<unknown>) =>
  call.then(
    () => "OK",
    (e: { data?: { code?: string } }) => e.data?.code ?? "NO_CODE",
  );

const guess = (control: TestControl, from: string, token: string) =>
  codeOf(
    via(control, from).nodes.exchange.mutate({
      enrollmentToken: token,
      softwareVersion: "t",
      publicAddress: null,
    }),
  );

/** A well-formed enrollment token that was never issued: `prefix` then filler. */
const fake = (prefix: string, i: number) =>
  `${prefix}${String(i).padStart(43 - (prefix.length - 4), "x")}`;

let control: TestControl;
let proxied: TestControl;
beforeAll(async () => {
  control = await startTestControl({ allowedHosts: ["control.example.com"] });
  proxied = await startTestControl({
    trustedProxies: ["127.0.0.1"],
    controlPlane: { exchangeLimit: { maxFailures: 3, globalMaxFailures: 8 } },
    authLimit: { maxFailures: 5 },
  });
});
afterAll(async () => {
  await control?.close();
  await proxied?.close();
});

describe("Host allow-list (DNS rebinding)", () => {
  it("answers the listen address, localhost and configured names; refuses any other Host", async () => {
    const { url, wsUrl } = control.app.server;
    const port = new URL(url).port;
    expect(await get(url, `127.0.0.1:${port}`)).toBe(401);
    expect(await get(url, `localhost:${port}`)).toBe(401);
    expect(await get(url, "control.example.com")).toBe(401);
    expect(await get(url, `evil.example:${port}`)).toBe(421);
    expect(await get(url, `evil.example:${port}`, "/")).toBe(421);
    expect(await get(url, `evil.example:${port}`, "/proxy.pac")).toBe(421);
    // Probes and scrapers reach the server by whatever address they have.
    expect(await get(url, `10.9.8.7:${port}`, "/health")).toBe(200);
    expect(await upgrade(wsUrl, `127.0.0.1:${port}`)).toBe("open");
    expect(await upgrade(wsUrl, `evil.example:${port}`)).toBe("421");
  });
});

describe("forwarded addresses and failed-authentication limits", () => {
  it("believes X-Forwarded-For from a trusted proxy only, and buckets IPv6 clients by /64", async () => {
    const wrong = (from: string) =>
      codeOf(
        createTRPCClient<AppRouter>({
          links: [
            httpLink({
              url: `${proxied.app.server.url}/trpc`,
              headers: { "x-forwarded-for": from, authorization: "Bearer esa_wrong-wrong-wrong" },
            }),
          ],
        }).whoami.query(),
      );
    // Five hosts of one /64 share one budget; the sixth is limited, another /64 is not.
    for (let i = 1; i <= 5; i++) expect(await wrong(`2001:db8:1:2::${i}`)).toBe("UNAUTHORIZED");
    expect(await wrong("2001:db8:1:2:ffff::9")).toBe("TOO_MANY_REQUESTS");
    expect(await wrong("2001:db8:1:3::1")).toBe("UNAUTHORIZED");
    // A client-written entry left of the proxy's own entry proves nothing.
    expect(await wrong("2001:db8:1:2::1, 2001:db8:1:4::1")).toBe("UNAUTHORIZED");

    // Without trusted proxies (the default) the header is ignored: rotating it dodges nothing.
    const results = [];
    for (let i = 0; i < 22; i++) {
      results.push(
        await codeOf(
          createTRPCClient<AppRouter>({
            links: [
              httpLink({
                url: `${control.app.server.url}/trpc`,
                headers: {
                  "x-forwarded-for": `198.51.100.${i}`,
                  authorization: "Bearer esa_wrong-wrong-wrong",
                },
              }),
            ],
          }).whoami.query(),
        ),
      );
    }
    expect(results.at(-1)).toBe("TOO_MANY_REQUESTS");
  });

  it("limits enrollment-token guesses per token prefix and fleet-wide, from any number of addresses", async () => {
    // Three guesses at one prefix from three addresses: the prefix is then closed to everyone.
    for (let i = 0; i < 3; i++) {
      expect(await guess(proxied, `203.0.113.${i + 1}`, fake("ese_leakedpfx", i))).toBe(
        "UNAUTHORIZED",
      );
    }
    expect(await guess(proxied, "203.0.113.50", fake("ese_leakedpfx", 9))).toBe(
      "TOO_MANY_REQUESTS",
    );
    // Fresh prefixes from fresh addresses until the fleet-wide budget (8) is spent.
    for (let i = 0; i < 5; i++) {
      expect(await guess(proxied, `203.0.114.${i + 1}`, fake(`ese_other${i}`, i))).toBe(
        "UNAUTHORIZED",
      );
    }
    expect(await guess(proxied, "203.0.115.1", fake("ese_fresh", 1))).toBe("TOO_MANY_REQUESTS");
    // Malformed tokens are refused without a database lookup, and count the same.
    expect(await guess(proxied, "203.0.116.1", "ese_short")).toBe("TOO_MANY_REQUESTS");
  });
});
