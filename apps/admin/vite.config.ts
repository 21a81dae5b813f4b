import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/** Where `npm run dev` sends API calls: a control plane from `npm start` by default. */
const controlUrl = process.env.EDGESOCKS_CONTROL_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
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
