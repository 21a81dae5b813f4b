import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AppRouter } from "@edgesocks/api";
import { createTRPCClient, httpLink } from "@trpc/client";
import { writeFileAtomic } from "../fs-atomic";

const FILE = "node-token";
/** Prefix of one-time enrollment tokens; node tokens start with `esn_`. */
const ENROLLMENT_PREFIX = "ese_";

export interface NodeTokenOptions {
  controlUrl: string;
  token: string;
  stateDir: string;
  softwareVersion: string;
  publicAddress: string | null;
}

/**
 * The long-lived node token: the one given, or, for a one-time enrollment
 * token, the node token it was exchanged for (stored in the state dir so a
 * restart does not need the spent enrollment token).
 */
export async function resolveNodeToken(options: NodeTokenOptions): Promise<string> {
  if (!options.token.startsWith(ENROLLMENT_PREFIX)) return options.token;
  const path = join(options.stateDir, FILE);
  try {
    const stored = readFileSync(path, "utf8").trim();
    if (stored) return stored;
  } catch {
    // Not exchanged yet.
  }
  const client = createTRPCClient<AppRouter>({
    links: [httpLink({ url: httpUrl(options.controlUrl) })],
  });
  const result = await client.nodes.exchange.mutate({
    enrollmentToken: options.token,
    softwareVersion: options.softwareVersion,
    publicAddress: options.publicAddress,
  });
  writeFileAtomic(path, `${result.nodeToken}\n`);
  return result.nodeToken;
}

/** `ws://host:port/trpc` → `http://host:port/trpc` (and wss → https). */
export function httpUrl(controlUrl: string): string {
  const url = new URL(controlUrl);
  if (url.protocol === "ws:") url.protocol = "http:";
  if (url.protocol === "wss:") url.protocol = "https:";
  return url.toString().replace(/\/$/, "");
}

export function wsUrl(controlUrl: string): string {
  const url = new URL(controlUrl);
  if (url.protocol === "http:") url.protocol = "ws:";
  if (url.protocol === "https:") url.protocol = "wss:";
  return url.toString().replace(/\/$/, "");
}
