import { createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * `/docs`: Swagger UI (from the swagger-ui-dist package, served from here: no CDN) on
 * `/openapi.json`. Its own CSP: everything from 'self'; inline style attributes only, which
 * Swagger UI's React components set (no inline script, no eval).
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "style-src-attr 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const DIST = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>EdgeSocks API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to an online validator.
const INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#ui",
  validatorUrl: null,
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
});
`;

const ASSETS: Record<string, string> = {
  "/docs/swagger-ui.css": "text/css; charset=utf-8",
  "/docs/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

const HEADERS = {
  "content-security-policy": DOCS_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/** True when it answered (a /docs path). */
export function serveDocs(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  if (pathname !== "/docs" && pathname !== "/docs/" && !pathname.startsWith("/docs/")) return false;
  for (const [name, value] of Object.entries(HEADERS)) res.setHeader(name, value);
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return true;
  }
  const text = (type: string, body: string) =>
    res.writeHead(200, { "content-type": type, "cache-control": "no-cache" }).end(body);
  if (pathname === "/docs" || pathname === "/docs/") text("text/html; charset=utf-8", PAGE);
  else if (pathname === "/docs/init.js") text("text/javascript; charset=utf-8", INIT);
  else if (ASSETS[pathname] !== undefined) {
    res.writeHead(200, {
      "content-type": ASSETS[pathname],
      "cache-control": "public, max-age=3600",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(join(DIST, pathname.slice("/docs/".length))).pipe(res);
  } else res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  return true;
}
