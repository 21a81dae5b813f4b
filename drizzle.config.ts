import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate` writes SQL migrations for packages/db's schema into drizzle/;
// edgesocks-control applies them on start (or with `edgesocks-control migrate`).
export default defineConfig({
  dialect: "sqlite",
  schema: "./packages/db/src/schema/*.ts",
  out: "./drizzle",
});
