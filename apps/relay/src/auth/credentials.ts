import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import { LRUCache } from "lru-cache";

/** What the policy holds for a user that can authenticate. */
export interface UserSecret {
  username: string;
  enabled: boolean;
  /** argon2id PHC string, or undefined when only a plaintext password is configured. */
  passwordHash?: string | undefined;
  password?: string | undefined;
}

export interface CredentialCacheOptions {
  /** Users whose verified credential is remembered. @default 10000 */
  maxEntries?: number;
  /** How long a verified credential is remembered. @default 600000 (ms) */
  ttlMs?: number;
}

/**
 * Verifies RFC 1929 credentials. argon2id costs milliseconds by design, so a
 * credential that verified once is remembered as a keyed digest (never the
 * password) and a busy user is not re-hashed on every connection. An entry is
 * only trusted while the user's stored secret is unchanged.
 */
export class CredentialVerifier {
  readonly #key = randomBytes(32);
  // Verifying unknown users against a real hash keeps them as slow as known
  // ones, so timing does not reveal which usernames exist.
  #dummyHash: Promise<string> | undefined;
  readonly #cache: LRUCache<string, { secret: string; digest: Buffer }>;

  constructor(options: CredentialCacheOptions = {}) {
    this.#cache = new LRUCache({
      max: options.maxEntries ?? 10_000,
      ttl: options.ttlMs ?? 600_000,
    });
  }

  async verify(user: UserSecret | undefined, password: string): Promise<boolean> {
    if (!user?.enabled) {
      this.#dummyHash ??= argon2Hash(randomBytes(16).toString("hex"));
      await argon2Verify(await this.#dummyHash, password).catch(() => false);
      return false;
    }
    const secret = user.passwordHash ?? user.password ?? "";
    const digest = this.#digest(user.username, password);
    const cached = this.#cache.get(user.username);
    if (cached && cached.secret === secret && timingSafeEqual(cached.digest, digest)) return true;

    const ok = user.passwordHash
      ? await argon2Verify(user.passwordHash, password).catch(() => false)
      : user.password !== undefined &&
        timingSafeEqual(digest, this.#digest(user.username, user.password));
    if (ok) this.#cache.set(user.username, { secret, digest });
    return ok;
  }

  /** Forget everything, e.g. when a new policy arrives. */
  clear(): void {
    this.#cache.clear();
  }

  #digest(username: string, password: string): Buffer {
    // A secret-prefixed sha256, not HMAC: the digest never leaves the
    // process, so length extension does not apply, and HMAC's per-call key
    // import was the largest cost of a warm-cache login (~40 µs).
    return createHash("sha256")
      .update(this.#key)
      .update(username)
      .update("\0")
      .update(password)
      .digest();
  }
}
