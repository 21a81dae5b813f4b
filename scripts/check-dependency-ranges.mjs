#!/usr/bin/env node
// Fails when one external dependency is declared with two different version ranges anywhere in
// the workspace (root, apps/*, packages/*, deploy), so every part builds against one version.
// Workspace packages (@edgesocks/*) are linked, not resolved by range, and are left out.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const KINDS = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"];

/** The manifests of the root and of every workspace folder it lists. */
export function manifests(root) {
  const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const files = [join(root, "package.json")];
  for (const pattern of rootManifest.workspaces ?? []) {
    const dirs = pattern.endsWith("/*")
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(root, pattern.slice(0, -2), entry.name))
      : [join(root, pattern)];
    for (const dir of dirs) {
      if (existsSync(join(dir, "package.json"))) files.push(join(dir, "package.json"));
    }
  }
  return files;
}

/** Each external dependency declared with more than one range: name -> "range (file, ...)". */
export function conflictingRanges(root) {
  const ranges = new Map();
  for (const file of manifests(root)) {
    const manifest = JSON.parse(readFileSync(file, "utf8"));
    for (const kind of KINDS) {
      for (const [name, range] of Object.entries(manifest[kind] ?? {})) {
        if (name.startsWith("@edgesocks/")) continue;
        const byRange = ranges.get(name) ?? new Map();
        byRange.set(range, [...(byRange.get(range) ?? []), relative(root, file)]);
        ranges.set(name, byRange);
      }
    }
  }
  return [...ranges]
    .filter(([, byRange]) => byRange.size > 1)
    .map(([name, byRange]) => ({
      name,
      ranges: [...byRange].map(([range, files]) => `${range} (${files.join(", ")})`),
    }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(fileURLToPath(import.meta.url), "..", "..");
  const conflicts = conflictingRanges(root);
  for (const { name, ranges } of conflicts) {
    console.error(
      `dependency ranges: ${name} is declared as ${ranges.join(" and as ")}; use one range`,
    );
  }
  process.exit(conflicts.length === 0 ? 0 : 1);
}
