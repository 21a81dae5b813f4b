import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl, tempDatabase } from "./test-support/control";

const temp = tempDatabase();
let control: TestControl;
let url: string;
beforeAll(async () => {
  const dist = join(temp.dir, "dist");
  mkdirSync(join(dist, "assets"), { recursive: true });
  writeFileSync(join(dist, "index.html"), "<!doctype html><title>EdgeSocks</title>");
  writeFileSync(join(dist, "assets", "app.js"), "console.log('admin')");
  writeFileSync(join(dist, "assets", "app.js.map"), '{"sources":["src/secret.tsx"]}');
  control = await startTestControl({ adminDistDir: dist });
  url = control.app.server.url;
});
afterAll(async () => {
  await control.close();
  temp.remove();
});

describe("admin app security headers", () => {
  it("sends a strict CSP, no framing, nosniff and no referrer on pages, assets and errors", async () => {
    const responses = await Promise.all([
      fetch(`${url}/`),
      fetch(`${url}/nodes/relay-1`),
      fetch(`${url}/assets/app.js`),
      fetch(`${url}/`, { method: "POST" }),
    ]);
    for (const response of responses) {
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp.split("; ")).toEqual(
        expect.arrayContaining([
          "default-src 'self'",
          "script-src 'self'",
          "frame-ancestors 'none'",
        ]),
      );
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    }
  });

  it("never serves a source map, even one left in the build folder", async () => {
    const map = await fetch(`${url}/assets/app.js.map`);
    expect(map.status).toBe(404);
    expect(await map.text()).not.toContain("secret.tsx");
  });
});
