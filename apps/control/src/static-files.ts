import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve } from "node:path";
import sirv from "sirv";
/**
 * The admin app's Content-Security-Policy: its own scripts, styles, images and API only; no
 * inline script, no eval, never in a frame. `connect-src 'self'` covers the same-origin WebSocket.
 */
export const ADMIN_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Sent with every response of the admin app, errors included. */
export const ADMIN_SECURITY_HEADERS = {
  "content-security-policy": ADMIN_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
} as const;

/**
 * Serves the admin app's build folder with sirv: files by path (the build's precompressed `.br`
 * and `.gz` twins to clients that accept them), weak ETags answered with 304, index.html for any
 * other GET without a file extension (client side routes). Hashed files under /assets are
 * immutable, the rest revalidated. Source maps are never served, even when a build left some in
 * the folder. Returns null when the folder does not exist (the admin app is not built).
 */
export function staticFiles(
  folder: string,
): ((req: IncomingMessage, res: ServerResponse, pathname: string) => void) | null {
  const root = resolve(folder);
  if (!existsSync(join(root, "index.html"))) return null;
  const notFound = (res: ServerResponse) =>
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
  const serve = sirv(root, {
    etag: true,
    brotli: true,
    gzip: true,
    single: true,
    dotfiles: false,
    onNoMatch: (_req, res) => notFound(res),
    setHeaders: (res, pathname) => {
      res.setHeader(
        "cache-control",
        pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      );
    },
  });
  return (req, res, pathname) => {
    for (const [name, value] of Object.entries(ADMIN_SECURITY_HEADERS)) res.setHeader(name, value);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (extname(pathname) === ".map") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not served\n");
      return;
    }
    serve(req, res);
  };
}
