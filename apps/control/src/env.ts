import { isIP } from "node:net";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { ControlError } from "./errors";

/** The admin app's build output, served at `/` when it exists. */
export const DEFAULT_ADMIN_DIST = fileURLToPath(new URL("../../admin/dist", import.meta.url));

const MiB = 1024 * 1024;
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
function isAddressOrCidr(entry: string): boolean {
  const [address = "", bits, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** Comma-separated, blanks dropped. */
const list = z.string().transform((text) =>
  text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== ""),
);
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/** Every environment variable edgesocks-control reads, with its default. */
const Env = z.object({
  DATABASE_URL: z.string().min(1).default("file:./data/control.db"),
  DATABASE_AUTH_TOKEN: z.string().min(1).optional(),
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** Sessions older than this are deleted; unset keeps them forever. */
  SESSION_RETENTION_DAYS: int(1, 36500).optional(),
  EDGESOCKS_ADMIN_TOKEN_FILE: z.string().min(1).default("./data/admin-token"),
  /** The first admin token to create on an empty database instead of a random one. */
  EDGESOCKS_ADMIN_TOKEN: z
    .string()
    .regex(/^esa_[A-Za-z0-9_-]{20,}$/, "must be esa_ followed by at least 20 base64url characters")
    .optional(),
  /** Comma-separated browser origins allowed to call the API (the admin app's own origin needs none). */
  EDGESOCKS_CORS_ORIGINS: z.string().default(""),
  /**
   * Names clients may reach the control plane by (the Host header), besides the listen address;
   * `*` allows any (no DNS-rebinding protection).
   */
  EDGESOCKS_ALLOWED_HOSTS: list.default([]),
  /** Proxy addresses or CIDRs whose X-Forwarded-For names the client; default none. */
  EDGESOCKS_TRUSTED_PROXIES: list
    .refine(
      (entries) => entries.every(isAddressOrCidr),
      "expected comma-separated IP addresses or CIDRs such as 10.0.0.0/8",
    )
    .default([]),
  EDGESOCKS_ADMIN_DIST: z.string().min(1).default(DEFAULT_ADMIN_DIST),
  EDGESOCKS_MAX_BODY_BYTES: int(1024, 256 * MiB).default(4 * MiB),
  EDGESOCKS_WS_MAX_PAYLOAD_BYTES: int(1024, 256 * MiB).default(4 * MiB),
  EDGESOCKS_MIGRATE_ON_START: bool.default(true),
  /** Region order of /proxy.pac per client: `CIDR=r1,r2;country:CC=r1;default=r1,r2` or a JSON file path. */
  EDGESOCKS_PAC_REGIONS: z.string().default(""),
  EDGESOCKS_LOG_LEVEL: z
    .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
    .default("info"),
  EDGESOCKS_LOG_FORMAT: z.enum(["pretty", "json"]).default("json"),
});

export type Env = z.infer<typeof Env>;

/** Names and one-line meanings, for --help. */
export const ENV_HELP: [string, string][] = [
  ["DATABASE_URL", "libSQL URL (default file:./data/control.db; libsql://… for Turso/sqld)"],
  ["DATABASE_AUTH_TOKEN", "auth token for a remote libSQL URL"],
  ["HOST, PORT", "listen address (default 127.0.0.1:8080); HTTP, WebSocket, /health, /metrics"],
  ["SESSION_RETENTION_DAYS", "delete session records older than this (default: keep)"],
  [
    "EDGESOCKS_ADMIN_TOKEN_FILE",
    "where the first admin token is written (default ./data/admin-token)",
  ],
  ["EDGESOCKS_ADMIN_TOKEN", "use this esa_… token as the first admin token of an empty database"],
  ["EDGESOCKS_CORS_ORIGINS", "comma-separated origins allowed to call the API from a browser"],
  [
    "EDGESOCKS_ALLOWED_HOSTS",
    "comma-separated names clients use for this server (Host header), besides the listen address; * = any",
  ],
  [
    "EDGESOCKS_TRUSTED_PROXIES",
    "comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed (default none)",
  ],
  ["EDGESOCKS_ADMIN_DIST", "admin app folder served at / (default apps/admin/dist, if present)"],
  ["EDGESOCKS_MAX_BODY_BYTES", "largest HTTP request body (default 4 MiB)"],
  ["EDGESOCKS_WS_MAX_PAYLOAD_BYTES", "largest WebSocket message (default 4 MiB)"],
  [
    "EDGESOCKS_MIGRATE_ON_START",
    "apply migrations on start (default true; false with several instances)",
  ],
  [
    "EDGESOCKS_PAC_REGIONS",
    "GET /proxy.pac region order: CIDR=r1,r2;country:CC=r1;default=r1,r2 or a JSON file (docs/nearest.md)",
  ],
  ["EDGESOCKS_LOG_LEVEL, EDGESOCKS_LOG_FORMAT", "info | debug | …, json | pretty"],
];

/** Parses the environment once; the message names the variable and what is valid. */
export function readEnv(source: Record<string, string | undefined>): Env {
  const known = Object.fromEntries(
    Object.keys(Env.shape).map((key) => [key, source[key] === "" ? undefined : source[key]]),
  );
  const parsed = Env.safeParse(known);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ControlError("CONTROL_E_ENV", `${String(issue.path[0])}: ${issue.message}`);
  }
  return parsed.data;
}
