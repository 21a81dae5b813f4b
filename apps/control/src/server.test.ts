import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestControl, type TestControl, tempDatabase } from "./test-support/control";

const temp = tempDatabase();
let control: TestControl;
let url: string;
beforeAll(async () => {
  const dist = join(temp.dir, "dist");
  mkdirSync(join(dist, "assets"), { recursive: true });
  writeFileSync(join(dist, "index.html"), "<!doctype html><title>EdgeSocks</title>");
  writeFileSync(join(dist, "assets", "app.js"), "console.log('admin')");
  writeFileSync(join(temp.dir, "secret.txt"), "not served");
  control = await startTestControl({
    adminDistDir: dist,
    corsOrigins: ["https://admin.example.com"],
    maxBodyBytes: 64 * 1024,
    authLimit: { maxFailures: 5, windowMs: 60_000 },
  });
  url = control.app.server.url;
});
afterAll(async () => {
  await control.close();
  temp.remove();
});

describe("HTTP endpoints", () => {
  it("answers /health, /ready and /metrics", async () => {
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      "edgesocks_control_api_request_duration_seconds",
      "edgesocks_control_ingest_rows_total",
      "edgesocks_control_connected_nodes",
      "edgesocks_control_snapshot_version 1",
      "edgesocks_control_write_queue_depth",
    ]) {
      expect(metrics).toContain(name);
    }
  });

  it("serves the admin app with a fallback to index.html, never outside its folder", async () => {
    const index = await fetch(`${url}/`);
    expect(index.headers.get("content-type")).toMatch(/text\/html/);
    expect(await index.text()).toContain("EdgeSocks");
    const asset = await fetch(`${url}/assets/app.js`);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(await (await fetch(`${url}/nodes/relay-1`)).text()).toContain("EdgeSocks");
    const traversal = await fetch(`${url}/..%2Fsecret.txt`);
    expect(await traversal.text()).not.toContain("not served");
  });

  it("allows listed CORS origins only", async () => {
    const preflight = await fetch(`${url}/trpc/whoami`, {
      method: "OPTIONS",
      headers: { origin: "https://admin.example.com", "access-control-request-method": "GET" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
    const denied = await fetch(`${url}/trpc/whoami`, {
      headers: { origin: "https://evil.example" },
    });
    expect(denied.status).toBe(403);
  });

  it("refuses bodies over the limit with 413", async () => {
    const response = await fetch(`${url}/trpc/users.create`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${control.adminToken}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ username: "x".repeat(100 * 1024) }),
    });
    expect(response.status).toBe(413);
  });

  it("works as plain HTTP/JSON for scripts", async () => {
    const input = encodeURIComponent(JSON.stringify({ limit: 1 }));
    const response = await fetch(`${url}/trpc/snapshots.list?input=${input}`, {
      headers: { authorization: `Bearer ${control.adminToken}` },
    });
    const body = (await response.json()) as { result: { data: { items: { version: number }[] } } };
    expect(body.result.data.items[0]?.version).toBe(1);
  });
});

describe("WebSocket", () => {
  it("refuses an upgrade from an origin that is not allowed, and paths other than /trpc", async () => {
    const outcome = (target: string, origin?: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(target, origin === undefined ? {} : { origin });
        ws.on("open", () => {
          ws.close();
          resolve("open");
        });
        ws.on("unexpected-response", (_req, res) => resolve(String(res.statusCode)));
        ws.on("error", () => resolve("error"));
      });
    const wsUrl = control.app.server.wsUrl;
    expect(await outcome(wsUrl)).toBe("open");
    expect(await outcome(wsUrl, "https://admin.example.com")).toBe("open");
    expect(await outcome(wsUrl, "https://evil.example")).toBe("403");
    expect(await outcome(wsUrl.replace("/trpc", "/other"))).toBe("404");
  });

  it("closes messages over maxPayload", async () => {
    const ws = new WebSocket(control.app.server.wsUrl);
    await new Promise((resolve) => ws.once("open", resolve));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send("x".repeat(5 * 1024 * 1024));
    expect(await closed).toBe(1009);
  });
});

describe("failed authentication", () => {
  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => "OK",
      (e: { data?: { code?: string } }) => e.data?.code,
    );

  it("limits wrong tokens per address; requests without a token and valid tokens are never limited", async () => {
    // No token is not a failed authentication: far more than maxFailures stay plain 401s.
    const anonymous = control.http(null);
    const none = [];
    for (let i = 0; i < 12; i++) none.push(await codeOf(anonymous.whoami.query()));
    expect(none).toEqual(Array(12).fill("UNAUTHORIZED"));
    expect(await codeOf(control.admin.whoami.query())).toBe("OK");

    const wrong = control.http("esa_wrong-token-wrong-token");
    const codes: string[] = [];
    for (let i = 0; i < 7; i++) codes.push((await codeOf(wrong.whoami.query())) ?? "");
    expect(codes.slice(0, 5)).toEqual(Array(5).fill("UNAUTHORIZED"));
    expect(codes.slice(5)).toEqual(["TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"]);
    // Someone else's failures from this address never lock a valid token out, over HTTP or WS.
    expect(await codeOf(control.admin.whoami.query())).toBe("OK");
    const socket = control.ws(control.adminToken);
    expect(await codeOf(socket.client.whoami.query())).toBe("OK");
  });
});
