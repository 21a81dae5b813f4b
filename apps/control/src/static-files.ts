import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

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
 * Serves the admin app's build folder: files by path, and index.html for any other GET (client
 * side routes). Source maps are never served, even when a build left some in the folder. Returns
 * null when the folder does not exist (the admin app is not built).
 */
export function staticFiles(
  folder: string,
): ((req: IncomingMessage, res: ServerResponse, pathname: string) => void) | null {
  const root = resolve(folder);
  const index = join(root, "index.html");
  if (!existsSync(index)) return null;
  return (req, res, pathname) => {
    for (const [name, value] of Object.entries(ADMIN_SECURITY_HEADERS)) res.setHeader(name, value);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    let file = index;
    try {
      const candidate = normalize(join(root, decodeURIComponent(pathname)));
      // Never outside the folder, whatever `..` or encoded slashes the path holds.
      if (
        (candidate === root || candidate.startsWith(root + sep)) &&
        statSync(candidate, { throwIfNoEntry: false })?.isFile()
      ) {
        file = candidate;
      }
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (extname(pathname) === ".map") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not served\n");
      return;
    }
    const immutable = file !== index && pathname.startsWith("/assets/");
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  };
}
