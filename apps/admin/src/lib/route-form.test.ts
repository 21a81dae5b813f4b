import { describe, expect, it } from "vitest";
import { NEW_ROUTE_TEXT, parseRouteText, type RouteView, routeEditorText } from "./route-form";

describe("route editor", () => {
  it("starts from a valid route", () => {
    expect(parseRouteText(NEW_ROUTE_TEXT).ok).toBe(true);
  });

  it("shows a stored hop's password as empty and refuses to save it so", () => {
    const stored = {
      name: "r",
      resolve: "local",
      selector: "failover",
      maxFails: 1,
      failTimeoutSecs: 30,
      chains: [
        {
          hops: [
            { type: "socks5", host: "127.0.0.1", port: 1081, username: "u", hasPassword: true },
          ],
        },
      ],
      position: 0,
    } as unknown as RouteView;
    const text = routeEditorText(stored);
    expect(JSON.parse(text).chains[0].hops[0]).toEqual({
      type: "socks5",
      host: "127.0.0.1",
      port: 1081,
      username: "u",
      password: "",
    });
    expect(parseRouteText(text)).toEqual({
      ok: false,
      error: "chains[0].hops[0].password: type the hop's password again",
    });
    expect(parseRouteText(text.replace('"password": ""', '"password": "p"')).ok).toBe(true);
  });

  it("keeps a chain's proxyProtocol in the editor text", () => {
    const stored = {
      name: "r",
      resolve: "remote",
      selector: "failover",
      maxFails: 1,
      failTimeoutSecs: 30,
      chains: [{ proxyProtocol: "v2", hops: [{ type: "socks5", host: "127.0.0.1", port: 1 }] }],
      position: 0,
    } as unknown as RouteView;
    const text = routeEditorText(stored);
    expect(JSON.parse(text).chains[0].proxyProtocol).toBe("v2");
    const parsed = parseRouteText(text);
    expect(parsed.ok && parsed.route.chains[0]!.proxyProtocol).toBe("v2");
  });

  it("names what is wrong with the text", () => {
    expect(parseRouteText("{").ok).toBe(false);
    expect(parseRouteText("[]")).toEqual({ ok: false, error: "expected one route object" });
    expect(parseRouteText('{"name":"r","chains":[]}')).toEqual({
      ok: false,
      error: "chains: at least one chain",
    });
  });
});
