import { createHash, randomBytes } from "node:crypto";

/** Token kinds by prefix: admin API, one-time enrollment, long-lived node. */
export type TokenPrefix = "esa" | "ese" | "esn";

/** A new random token: `<prefix>_` and 32 bytes of base64url. */
export function generateToken(prefix: TokenPrefix): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** What the database stores instead of a token: its sha256, lowercase hex. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
