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
  ".map": "application/json",
};

/**
 * Serves the admin app's build folder: files by path, and index.html for any other GET (client
 * side routes). Returns null when the folder does not exist (the admin app is not built).
 */
export function staticFiles(
  folder: string,
): ((req: IncomingMessage, res: ServerResponse, pathname: string) => void) | null {
  const root = resolve(folder);
  const index = join(root, "index.html");
  if (!existsSync(index)) return null;
  return (req, res, pathname) => {
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
    const immutable = file !== index && pathname.startsWith("/assets/");
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  };
}
