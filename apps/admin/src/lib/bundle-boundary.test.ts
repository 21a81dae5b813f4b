import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

// Server code must never reach the browser bundle: the API is used through its AppRouter type only.
describe("admin bundle boundary", () => {
  const files = sources(SRC);
  const imports = files.flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms)].map(
      (m) => ({ file: relative(SRC, file), typeOnly: m[1] !== undefined, from: m[2]! }),
    ),
  );

  it("finds the app's sources", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it("imports @edgesocks/* packages and @trpc/server as types only", () => {
    const offending = imports.filter(
      (i) => (i.from.startsWith("@edgesocks/") || i.from.startsWith("@trpc/server")) && !i.typeOnly,
    );
    expect(offending).toEqual([]);
  });

  it("imports no Node.js built-ins", () => {
    const offending = imports.filter(
      (i) => i.from.startsWith("node:") && i.file !== "vite.config.ts",
    );
    expect(offending).toEqual([]);
  });
});
