import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type PolicySnapshot, validateSnapshot } from "@edgesocks/policy";
import { writeFileAtomic } from "../fs-atomic";

const FILE = "snapshot.json";

export type CachedSnapshot =
  | { status: "none" }
  | { status: "ok"; snapshot: PolicySnapshot }
  | { status: "invalid"; error: string };

/** The last applied snapshot, re-validated: a damaged cache must not be served. */
export function loadCachedSnapshot(stateDir: string): CachedSnapshot {
  let text: string;
  try {
    text = readFileSync(join(stateDir, FILE), "utf8");
  } catch {
    return { status: "none" };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { status: "invalid", error: `not JSON: ${(error as Error).message}` };
  }
  const result = validateSnapshot(json);
  return result.ok
    ? { status: "ok", snapshot: result.snapshot }
    : { status: "invalid", error: result.error };
}

export function saveCachedSnapshot(stateDir: string, snapshot: PolicySnapshot): void {
  writeFileAtomic(join(stateDir, FILE), JSON.stringify(snapshot));
}
