import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl, tempDatabase } from "./test-support/control";

const temp = tempDatabase();
const BIG = `${"export const table = [];\n".repeat(2000)}console.log(table);\n`;
let control: TestControl;
let url: string;
beforeAll(async () => {
  const dist = join(temp.dir, "dist");
  mkdirSync(join(dist, "assets"), { recursive: true });
  writeFileSync(join(dist, "index.html"), "<!doctype html><title>EdgeSocks</title>");
  writeFileSync(join(dist, "assets", "app.js"), "console.log('admin')");
  writeFileSync(join(dist, "assets", "app.js.map"), '{"sources":["src/secret.tsx"]}');
  // As the admin build (vite.config.ts precompress) leaves them: .br and .gz twins.
  writeFileSync(join(dist, "assets", "big.js"), BIG);
  writeFileSync(join(dist, "assets", "big.js.br"), brotliCompressSync(BIG));
  writeFileSync(join(dist, "assets", "big.js.gz"), gzipSync(BIG));
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

describe("admin app static files (sirv)", () => {
  it("sends the precompressed twin a browser accepts (br before gzip), and plain to others", async () => {
    const [br, gzip, plain] = await Promise.all([
      fetch(`${url}/assets/big.js`, { headers: { "accept-encoding": "gzip, deflate, br" } }),
      fetch(`${url}/assets/big.js`, { headers: { "accept-encoding": "gzip" } }),
      fetch(`${url}/assets/big.js`, { headers: { "accept-encoding": "identity" } }),
    ]);
    // undici decodes content-encoding itself: compare bodies and sizes from the headers.
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(Number(br.headers.get("content-length"))).toBe(brotliCompressSync(BIG).length);
    expect(await br.text()).toBe(BIG);
    expect(gzip.headers.get("content-encoding")).toBe("gzip");
    expect(await gzip.text()).toBe(BIG);
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(Number(plain.headers.get("content-length"))).toBe(BIG.length);
    for (const r of [br, gzip, plain]) {
      expect(r.headers.get("content-type")).toMatch(/javascript/);
      expect(r.headers.get("vary")).toBe("Accept-Encoding");
      expect(r.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    }
  });

  it("answers a matching If-None-Match with 304, keeps client routes on index.html, 404s a missing asset", async () => {
    const first = await fetch(`${url}/assets/app.js`);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^W\/".+"$/);
    const [again, route, missing, index] = await Promise.all([
      fetch(`${url}/assets/app.js`, { headers: { "if-none-match": etag! } }),
      fetch(`${url}/sessions/live`),
      fetch(`${url}/assets/gone.js`),
      fetch(`${url}/`),
    ]);
    expect(again.status).toBe(304);
    expect(again.headers.get("x-frame-options")).toBe("DENY");
    expect(await route.text()).toBe("<!doctype html><title>EdgeSocks</title>");
    expect(route.headers.get("cache-control")).toBe("no-cache");
    expect(missing.status).toBe(404);
    expect(index.headers.get("etag")).toMatch(/^W\//);
  });
});
