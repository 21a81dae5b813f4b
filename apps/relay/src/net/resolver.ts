import { lookup } from "node:dns/promises";
import { ipFamily } from "@edgesocks/socks/address";
import { LRUCache } from "lru-cache";
import type { RelayMetrics } from "../metrics";

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type ResolveResult =
  | { ok: true; addresses: ResolvedAddress[] }
  | { ok: false; code: string };

export interface ResolverOptions {
  /** How long a successful answer is reused. @default 30000 (ms) */
  ttlMs?: number;
  /** Cached names at most. @default 10000 */
  maxEntries?: number;
  /** A lookup that takes longer fails with ETIMEOUT. @default 5000 (ms) */
  timeoutMs?: number;
  /** Static answers, consulted first: one address or several, in the order given. */
  hosts?: Readonly<Record<string, string | readonly string[]>>;
  metrics?: RelayMetrics;
}

/**
 * getaddrinfo() with a small positive cache: it honours /etc/hosts and
 * nsswitch as every other program on the host does, and the cache keeps a
 * busy destination from queueing on libuv's four resolver threads.
 */
export class Resolver {
  readonly #cache: LRUCache<string, ResolvedAddress[]>;
  readonly #inflight = new Map<string, Promise<ResolveResult>>();
  readonly #timeoutMs: number;
  readonly #metrics: RelayMetrics | undefined;
  readonly #hosts: Map<string, ResolvedAddress[]>;

  constructor(options: ResolverOptions = {}) {
    this.#hosts = new Map(
      Object.entries(options.hosts ?? {}).map(([name, answer]) => [
        name.toLowerCase(),
        (typeof answer === "string" ? [answer] : answer).map((address) => ({
          address,
          family: ipFamily(address, { zone: true }) === 6 ? 6 : 4,
        })),
      ]),
    );
    this.#cache = new LRUCache({
      max: options.maxEntries ?? 10_000,
      ttl: Math.max(1, options.ttlMs ?? 30_000),
    });
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#metrics = options.metrics;
  }

  resolve(name: string): Promise<ResolveResult> {
    const fixed = this.#hosts.get(name);
    if (fixed) return Promise.resolve({ ok: true, addresses: fixed });
    const cached = this.#cache.get(name);
    if (cached) return Promise.resolve({ ok: true, addresses: cached });
    let pending = this.#inflight.get(name);
    if (!pending) {
      pending = this.#lookup(name).finally(() => this.#inflight.delete(name));
      this.#inflight.set(name, pending);
    }
    return pending;
  }

  async #lookup(name: string): Promise<ResolveResult> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error("DNS timeout"), { code: "ETIMEOUT" })),
        this.#timeoutMs,
      );
    });
    try {
      const answers = await Promise.race([lookup(name, { all: true, order: "verbatim" }), timeout]);
      this.#metrics?.dnsDuration.observe((performance.now() - started) / 1000);
      const addresses = answers
        .filter((a) => a.family === 4 || a.family === 6)
        .map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
      if (addresses.length === 0) return this.#fail("ENODATA");
      this.#cache.set(name, addresses);
      return { ok: true, addresses };
    } catch (error) {
      return this.#fail(String((error as NodeJS.ErrnoException).code ?? "EUNKNOWN"));
    } finally {
      clearTimeout(timer);
    }
  }

  #fail(code: string): ResolveResult {
    this.#metrics?.dnsFailures.inc({ code });
    return { ok: false, code };
  }
}
