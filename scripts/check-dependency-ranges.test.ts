import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPT = join(import.meta.dirname, "check-dependency-ranges.mjs");
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A workspace on disk: the root manifest and one manifest per workspace folder. */
function workspace(packages: Record<string, object>): string {
  const root = mkdtempSync(join(tmpdir(), "edgesocks-ranges-"));
  dirs.push(root);
  for (const [dir, manifest] of Object.entries(packages)) {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, "package.json"), JSON.stringify(manifest));
  }
  return root;
}

function check(root: string): { status: number; stderr: string } {
  try {
    execFileSync(process.execPath, [SCRIPT, root], { stdio: "pipe" });
    return { status: 0, stderr: "" };
  } catch (error) {
    const failed = error as { status: number; stderr: Buffer };
    return { status: failed.status, stderr: failed.stderr.toString() };
  }
}

describe("check-dependency-ranges", () => {
  it("fails on two ranges of one dependency, naming both and their manifests", () => {
    const root = workspace({
      ".": { workspaces: ["packages/*", "deploy"], devDependencies: { zod: "^4.6.7" } },
      "packages/a": { dependencies: { zod: "^4.1.12", "@edgesocks/b": "*" } },
      "packages/b": { dependencies: { "@edgesocks/a": "^0.1.0" } },
      deploy: { dependencies: { zod: "^4.6.7" } },
    });
    const result = check(root);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "zod is declared as ^4.6.7 (package.json, deploy/package.json)",
    );
    expect(result.stderr).toContain("^4.1.12 (packages/a/package.json)");
    // Workspace packages are linked, whatever their range.
    expect(result.stderr).not.toContain("@edgesocks");
  });

  it("passes when every dependency has one range, and on this repository", () => {
    const root = workspace({
      ".": { workspaces: ["packages/*"], devDependencies: { vitest: "^4.1.12" } },
      "packages/a": { devDependencies: { vitest: "^4.1.12" } },
    });
    expect(check(root).status).toBe(0);
    expect(check(join(import.meta.dirname, "..")).status).toBe(0);
  });
});
