import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..");
const ROOT = join(SRC, "..", "..", "..");

/**
 * Package subpaths the app may import values from (its forms validate with the API's own zod
 * schemas), each with the file it resolves to. Such a file may import only zod, other entries and
 * its own relative modules (which obey the same rule).
 */
const BROWSER_SAFE: Record<string, string> = {
  "@edgesocks/api/inputs": "packages/api/src/routers/inputs.ts",
  "@edgesocks/policy/auth-scope": "packages/policy/src/auth-scope.ts",
  "@edgesocks/policy/rule-schema": "packages/policy/src/rule-schema.ts",
  "@edgesocks/policy/text": "packages/policy/src/text.ts",
  "@edgesocks/policy/validate": "packages/policy/src/validate.ts",
  "@edgesocks/socks/address": "packages/socks/src/address-text.ts",
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

  it("the browser-safe subpaths import only zod, each other and their own modules", () => {
    const valueImports = (file: string) =>
      [
        ...readFileSync(join(ROOT, file), "utf8").matchAll(
          /^(?:import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms,
        ),
      ]
        .filter((m) => m[1] === undefined)
        .map((m) => m[2]!);
    for (const [subpath, entry] of Object.entries(BROWSER_SAFE)) {
      const bad: string[] = [];
      const seen = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const from of valueImports(file)) {
          if (from.startsWith(".")) visit(join(dirname(file), `${from}.ts`));
          else if (from !== "zod" && BROWSER_SAFE[from] === undefined) bad.push(`${file}: ${from}`);
        }
      };
      visit(entry);
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
    expect(`packages/policy/${exports("policy")["./rule-schema"]!.slice(2)}`).toBe(
      BROWSER_SAFE["@edgesocks/policy/rule-schema"],
    );
    expect(`packages/policy/${exports("policy")["./validate"]!.slice(2)}`).toBe(
      BROWSER_SAFE["@edgesocks/policy/validate"],
    );
    expect(`packages/socks/${exports("socks")["./address"]!.slice(2)}`).toBe(
      BROWSER_SAFE["@edgesocks/socks/address"],
    );
  });

  it("imports no Node.js built-ins", () => {
    const offending = imports.filter(
      (i) => i.from.startsWith("node:") && i.file !== "vite.config.ts",
    );
    expect(offending).toEqual([]);
  });
});
