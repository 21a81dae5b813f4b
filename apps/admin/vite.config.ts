import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

/** Text files worth compressing, and the size below which it does not pay. */
const COMPRESSIBLE = /\.(html|js|css|svg|json|txt)$/;
const MIN_BYTES = 1024;

/**
 * Writes a `.br` and a `.gz` twin of every compressible file of the build: the control plane
 * (sirv) sends them to browsers that accept them, so nothing is compressed per request.
 */
function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "edgesocks-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const files = readdirSync(outDir, { recursive: true, encoding: "utf8" });
      for (const name of files.filter((f) => COMPRESSIBLE.test(f))) {
        const path = join(outDir, name);
        const data = readFileSync(path);
        if (data.length < MIN_BYTES) continue;
        writeFileSync(
          `${path}.br`,
          brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
        writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
      }
    },
  };
}

/** Where `npm run dev` sends API calls: a control plane from `npm start` by default. */
const controlUrl = process.env.EDGESOCKS_CONTROL_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react(), precompress()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The control plane serves these; hashed names under /assets are cached as immutable.
    assetsDir: "assets",
    // No source maps in the build: the control plane would otherwise publish the app's source.
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "/trpc": {
        target: controlUrl,
        changeOrigin: true,
        ws: true,
        // The control plane refuses browser origins it does not know; through this proxy the
        // request is the dev server's own, so it goes without one.
        configure: (proxy) => {
          proxy.on("proxyReq", (request) => request.removeHeader("origin"));
          proxy.on("proxyReqWs", (request) => request.removeHeader("origin"));
        },
      },
    },
  },
});
