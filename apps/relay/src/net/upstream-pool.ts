import type { Socket } from "node:net";
import { type HostPort, splitHostPort } from "@edgesocks/socks/address";
import type { Logger } from "@edgesocks/telemetry";
import type { RelayMetrics } from "../metrics";
import { backoffDelayMs } from "../retry";
import { type Clock, monotonicClock } from "../token-bucket";
import { normalizeDestination } from "./destination";
import type { EgressGuard } from "./egress-guard";
import type { ResolvedAddress, Resolver } from "./resolver";
import { connectUpstream } from "./upstream";

/** A pool destination: "host:port", "1.2.3.4:80" or "[::1]:443", port 1-65535; else undefined. */
export function parsePoolDestination(text: string): HostPort | undefined {
  const split = splitHostPort(text);
  return split && split.port > 0 ? split : undefined;
}

/** Why a ready connection left the pool without serving a client. */
export type PoolEviction = "idle" | "lru" | "closed" | "unsolicited_data";

export interface UpstreamPoolOptions {
  /** "host:port" entries to keep connections ready for. */
  destinations: readonly string[];
  /** Ready connections kept per destination. */
  perDestination: number;
  /** Ready (and connecting) connections in all. */
  maxTotal: number;
  /** A ready connection older than this is closed and replaced (ms). */
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** The pool never connects where the egress guard refuses to. */
  guard?: EgressGuard | undefined;
  metrics: RelayMetrics;
  logger?: Logger | undefined;
  clock?: Clock;
}

interface Ready {
  readonly socket: Socket;
  readonly address: ResolvedAddress;
  readonly readyAtMs: number;
  readonly destination: PoolDestination;
  detach(): void;
}

interface PoolDestination {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly ready: Ready[];
  connecting: number;
  lastUsedMs: number;
  failures: number;
  retryAtMs: number;
}

/** A connection this short-lived was dropped by the server: back off before replacing it. */
const SHORT_LIVED_MS = 1_000;

/**
 * Pre-established TCP connections to the destinations an operator lists, so
 * a CONNECT to one skips the connect round trip. A connection is handed out
 * once and never comes back: the session owns and closes it, so no byte of
 * one client's conversation can reach another. A ready connection that
 * receives anything (or is closed by the server) before it is used is thrown
 * away. Ready connections expire after `idleTimeoutMs`; past `maxTotal`, the
 * least recently used destination gives up its oldest one to a busier one.
 */
export class UpstreamPool {
  readonly #options: UpstreamPoolOptions;
  readonly #clock: Clock;
  readonly #destinations = new Map<string, PoolDestination>();
  #ready = 0;
  #connecting = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #resolver: Pick<Resolver, "resolve"> | undefined;

  constructor(options: UpstreamPoolOptions) {
    this.#options = options;
    this.#clock = options.clock ?? monotonicClock;
    for (const text of options.destinations) {
      const parsed = parsePoolDestination(text);
      const key = parsed && poolKey(parsed.host, parsed.port);
      if (!parsed || !key) throw new Error(`server.pool.destinations: "${text}" is not host:port`);
      this.#destinations.set(key, {
        key,
        host: key.slice(0, key.lastIndexOf("|")),
        port: parsed.port,
        ready: [],
        connecting: 0,
        lastUsedMs: Number.NEGATIVE_INFINITY,
        failures: 0,
        retryAtMs: Number.NEGATIVE_INFINITY,
      });
    }
  }

  /** Ready connections now (all destinations). */
  get readyCount(): number {
    return this.#ready;
  }

  /** Ready connections now for one destination. */
  readyFor(host: string, port: number): number {
    const key = poolKey(host, port);
    return (key && this.#destinations.get(key)?.ready.length) || 0;
  }

  /** Starts filling (names resolved with `resolver`), and the sweep timer. */
  start(resolver: Pick<Resolver, "resolve">): void {
    this.#resolver = resolver;
    if (this.#destinations.size === 0 || this.#closed) return;
    const sweepMs = Math.max(50, Math.min(1_000, Math.floor(this.#options.idleTimeoutMs / 2)));
    this.#timer = setInterval(() => this.#sweep(), sweepMs).unref();
    this.#sweep();
  }

  /**
   * A never-used connection to `host` (as normalizeDestination() spells it):`port`
   * whose address is one of `allowed` (what the ACL and egress guard let this
   * client reach), paused; undefined on a miss or for a destination not listed.
   */
  take(
    host: string,
    port: number,
    allowed: readonly ResolvedAddress[],
  ): { socket: Socket; address: ResolvedAddress } | undefined {
    const key = poolKey(host, port);
    const destination = key ? this.#destinations.get(key) : undefined;
    if (!destination || this.#closed) return undefined;
    destination.lastUsedMs = this.#clock();
    const { metrics } = this.#options;
    // Newest first: the least likely to have been dropped by the server.
    for (let i = destination.ready.length - 1; i >= 0; i--) {
      const entry = destination.ready[i]!;
      if (!allowed.some((a) => a.address === entry.address.address)) continue;
      this.#remove(entry);
      entry.detach();
      // Paused until the session's pipe reads it, so no byte is lost in between.
      entry.socket.pause();
      metrics.poolHits.inc();
      this.#fill(destination);
      return { socket: entry.socket, address: entry.address };
    }
    metrics.poolMisses.inc();
    this.#fill(destination);
    return undefined;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const destination of this.#destinations.values()) {
      for (const entry of [...destination.ready]) {
        this.#remove(entry);
        entry.detach();
        entry.socket.destroy();
      }
    }
  }

  #sweep(): void {
    const oldest = this.#clock() - this.#options.idleTimeoutMs;
    for (const destination of this.#destinations.values()) {
      for (const entry of [...destination.ready]) {
        if (entry.readyAtMs <= oldest) this.#evict(entry, "idle");
      }
    }
    // Most recently used first, so they win the slots when the pool is full.
    const byUse = [...this.#destinations.values()].sort((a, b) => b.lastUsedMs - a.lastUsedMs);
    for (const destination of byUse) this.#fill(destination);
  }

  #fill(destination: PoolDestination): void {
    const { perDestination, maxTotal } = this.#options;
    while (
      !this.#closed &&
      destination.ready.length + destination.connecting < perDestination &&
      this.#clock() >= destination.retryAtMs
    ) {
      if (this.#ready + this.#connecting >= maxTotal && !this.#evictFor(destination)) return;
      this.#connect(destination);
    }
  }

  /** Frees one slot from a destination used less recently than `destination`. */
  #evictFor(destination: PoolDestination): boolean {
    let victim: PoolDestination | undefined;
    for (const other of this.#destinations.values()) {
      if (other === destination || other.ready.length === 0) continue;
      if (other.lastUsedMs >= destination.lastUsedMs) continue;
      if (!victim || other.lastUsedMs < victim.lastUsedMs) victim = other;
    }
    if (!victim) return false;
    this.#evict(victim.ready[0]!, "lru");
    return true;
  }

  #connect(destination: PoolDestination): void {
    destination.connecting += 1;
    this.#connecting += 1;
    this.#open(destination)
      .then((opened) => {
        if (!opened) {
          destination.failures += 1;
          destination.retryAtMs =
            this.#clock() + backoffDelayMs(destination.failures, { baseMs: 500, maxMs: 30_000 });
        } else if (this.#closed) opened.socket.destroy();
        else this.#add(destination, opened.socket, opened.address);
      })
      .finally(() => {
        destination.connecting -= 1;
        this.#connecting -= 1;
      });
  }

  async #open(
    destination: PoolDestination,
  ): Promise<{ socket: Socket; address: ResolvedAddress } | undefined> {
    const { guard, connectTimeoutMs, logger } = this.#options;
    const resolver = this.#resolver;
    const normalized = normalizeDestination(destination.host);
    if (!normalized.ok || !resolver) return undefined;
    let candidates: ResolvedAddress[];
    if (normalized.destination.kind === "ip") {
      const { address, family } = normalized.destination;
      candidates = [{ address, family }];
    } else {
      const resolved = await resolver.resolve(normalized.destination.host);
      if (!resolved.ok) return undefined;
      candidates = resolved.addresses;
    }
    const permitted = candidates.filter((c) => !guard?.check(c.address, destination.port));
    if (permitted.length === 0) {
      logger?.warn(
        { destination: destination.key },
        "pool destination refused by the egress guard",
      );
      return undefined;
    }
    const result = await connectUpstream(permitted, {
      port: destination.port,
      timeoutMs: connectTimeoutMs,
    });
    return result.ok ? { socket: result.socket, address: result.address } : undefined;
  }

  #add(destination: PoolDestination, socket: Socket, address: ResolvedAddress): void {
    const onData = () => this.#evict(entry, "unsolicited_data");
    const onGone = () => this.#evict(entry, "closed");
    const entry: Ready = {
      socket,
      address,
      readyAtMs: this.#clock(),
      destination,
      detach: () => {
        socket.off("data", onData);
        socket.off("end", onGone);
        socket.off("close", onGone);
        socket.off("error", onGone);
      },
    };
    // Flowing while it waits: a server that speaks first or hangs up is noticed at once.
    socket.on("data", onData);
    socket.on("end", onGone);
    socket.on("close", onGone);
    socket.on("error", onGone);
    destination.ready.push(entry);
    this.#ready += 1;
    this.#options.metrics.poolReady.set(this.#ready);
  }

  #evict(entry: Ready, reason: PoolEviction): void {
    if (!this.#remove(entry)) return;
    entry.detach();
    entry.socket.on("error", () => {});
    entry.socket.destroy();
    this.#options.metrics.poolEvictions.inc({ reason });
    const destination = entry.destination;
    if (reason !== "idle" && reason !== "lru") {
      if (this.#clock() - entry.readyAtMs < SHORT_LIVED_MS) {
        destination.failures += 1;
        destination.retryAtMs =
          this.#clock() + backoffDelayMs(destination.failures, { baseMs: 500, maxMs: 30_000 });
      } else destination.failures = 0;
    }
  }

  #remove(entry: Ready): boolean {
    const list = entry.destination.ready;
    const index = list.indexOf(entry);
    if (index < 0) return false;
    list.splice(index, 1);
    this.#ready -= 1;
    this.#options.metrics.poolReady.set(this.#ready);
    return true;
  }
}

/** `host|port` with the host as normalizeDestination() spells it; undefined if it is not a host. */
function poolKey(host: string, port: number): string | undefined {
  const normalized = normalizeDestination(host);
  return normalized.ok ? `${normalized.destination.host}|${port}` : undefined;
}
