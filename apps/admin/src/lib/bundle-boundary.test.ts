import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..");
const ROOT = join(SRC, "..", "..", "..");

/**
 * Package subpaths the app may import values from (its forms validate with the API's own zod
 * schemas), each with the file it resolves to. Such a file may import only zod and other entries.
 */
const BROWSER_SAFE: Record<string, string> = {
  "@edgesocks/api/inputs": "packages/api/src/routers/inputs.ts",
  "@edgesocks/policy/text": "packages/policy/src/text.ts",
};

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

  it("imports @edgesocks/* packages and @trpc/server as types only, bar browser-safe subpaths", () => {
    const offending = imports.filter(
      (i) =>
        (i.from.startsWith("@edgesocks/") || i.from.startsWith("@trpc/server")) &&
        !i.typeOnly &&
        BROWSER_SAFE[i.from] === undefined,
    );
    expect(offending).toEqual([]);
    expect(imports.some((i) => i.from === "@edgesocks/api/inputs" && !i.typeOnly)).toBe(true);
  });

  it("the browser-safe subpaths import only zod and each other", () => {
    for (const [subpath, file] of Object.entries(BROWSER_SAFE)) {
      const from = [
        ...readFileSync(join(ROOT, file), "utf8").matchAll(
          /^import\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms,
        ),
      ]
        .filter((m) => m[1] === undefined)
        .map((m) => m[2]!);
      const bad = from.filter((f) => f !== "zod" && BROWSER_SAFE[f] === undefined);
      expect({ subpath, bad }).toEqual({ subpath, bad: [] });
    }
    const exports = (pkg: string) =>
      (
        JSON.parse(readFileSync(join(ROOT, "packages", pkg, "package.json"), "utf8")) as {
          exports: Record<string, string>;
        }
      ).exports;
    expect(`packages/api/${exports("api")["./inputs"]!.slice(2)}`).toBe(
      BROWSER_SAFE["@edgesocks/api/inputs"],
    );
    expect(`packages/policy/${exports("policy")["./text"]!.slice(2)}`).toBe(
      BROWSER_SAFE["@edgesocks/policy/text"],
    );
  });

  it("imports no Node.js built-ins", () => {
    const offending = imports.filter(
      (i) => i.from.startsWith("node:") && i.file !== "vite.config.ts",
    );
    expect(offending).toEqual([]);
  });
});
