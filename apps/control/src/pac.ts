import type { IncomingHttpHeaders } from "node:http";
import type { Db } from "@edgesocks/db";
import { nodes } from "@edgesocks/db/schema";
import { formatHostPort, parseHostPort } from "@edgesocks/socks/address";
import type { Logger } from "@edgesocks/telemetry";
import { and, isNotNull, isNull } from "drizzle-orm";
import { type PacRegions, parseClientAddress, regionOrder } from "./pac-regions";

export interface PacRelay {
  name: string;
  region: string;
  /** `host:port`, validated (see parseHostPort). */
  address: string;
}

/** A node row as the PAC needs it. */
export interface PacNode {
  name: string;
  region: string;
  publicAddress: string | null;
  lastSeenAtMs: number | null;
}

/**
 * The relays a PAC lists: those heard from within `heartbeatStaleMs` with a valid public
 * address. When none is, every relay ever heard from: a relay keeps serving from its cached
 * snapshot while its link to the control plane is down, so a stale heartbeat is no proof it is
 * gone, and browsers skip dead entries by themselves.
 */
export function pacRelays(
  rows: readonly PacNode[],
  options: { nowMs: number; heartbeatStaleMs: number; onBadAddress?: (row: PacNode) => void },
): { relays: PacRelay[]; stale: boolean } {
  const healthy: PacRelay[] = [];
  const seen: PacRelay[] = [];
  for (const row of rows) {
    if (row.publicAddress === null || row.lastSeenAtMs === null) continue;
    const target = parseHostPort(row.publicAddress);
    if (target === undefined) {
      options.onBadAddress?.(row);
      continue;
    }
    const relay = { name: row.name, region: row.region, address: formatHostPort(target) };
    seen.push(relay);
    if (options.nowMs - row.lastSeenAtMs <= options.heartbeatStaleMs) healthy.push(relay);
  }
  return healthy.length > 0 || seen.length === 0
    ? { relays: healthy, stale: false }
    : { relays: seen, stale: true };
}

/** FNV-1a: a stable small hash of the client, to spread clients over a region's relays. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The proxy list for one client: regions in `order` first (then the rest by name); within a
 * region, relays by name rotated by a hash of the client, so one region's clients spread over
 * its relays while each client sees a stable order.
 */
export function orderRelays(
  relays: readonly PacRelay[],
  order: readonly string[],
  clientKey: string,
): PacRelay[] {
  const byRegion = new Map<string, PacRelay[]>();
  for (const relay of relays) {
    const list = byRegion.get(relay.region) ?? [];
    list.push(relay);
    byRegion.set(relay.region, list);
  }
  const rank = (region: string) => {
    const i = order.indexOf(region);
    return i === -1 ? order.length : i;
  };
  const regions = [...byRegion.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return regions.flatMap((region) => {
    const list = byRegion.get(region)!.sort((a, b) => a.name.localeCompare(b.name));
    const shift = hash(clientKey) % list.length;
    return [...list.slice(shift), ...list.slice(0, shift)];
  });
}

/**
 * The PAC file: each relay as `SOCKS5 h:p; SOCKS h:p` (SOCKS is SOCKS4 to browsers, for old
 * clients), nearest first. `DIRECT` only closes the list when `direct` is set: a client told to
 * use the fleet must not bypass its policy because the relays are slow; with no relay at all it
 * is `DIRECT` (there is no fleet to send the traffic to).
 */
export function buildPac(
  relays: readonly PacRelay[],
  options: { order: readonly string[]; direct: boolean; clientKey: string; comment?: string },
): string {
  const proxies = orderRelays(relays, options.order, options.clientKey).flatMap((r) => [
    `SOCKS5 ${r.address}`,
    `SOCKS ${r.address}`,
  ]);
  if (options.direct || proxies.length === 0) proxies.push("DIRECT");
  const comments = [
    `// EdgeSocks relays, nearest first (region order: ${options.order.join(", ") || "by name"}).`,
    ...(options.comment ? [`// ${options.comment}`] : []),
    `// Generated ${new Date().toISOString()}.`,
  ];
  return `${comments.join("\n")}
function FindProxyForURL(url, host) {
  return ${JSON.stringify(proxies.join("; "))};
}
`;
}

export interface PacOptions {
  db: Db;
  regions: PacRegions;
  /** A relay heard from longer ago than this is not healthy, in ms. */
  heartbeatStaleMs: number;
  logger: Logger;
  /** How long one read of the relay list serves every client, in ms. @default 5000 */
  cacheMs?: number;
}

export type PacRequest = { remoteAddress: string | undefined; headers: IncomingHttpHeaders };

const header = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
};

/** `GET /proxy.pac`: the PAC file for one request (relay list cached for `cacheMs`). */
export function createPac(options: PacOptions): (request: PacRequest) => Promise<string> {
  const { db, regions, logger } = options;
  const cacheMs = options.cacheMs ?? 5000;
  const warned = new Set<string>();
  let cached: { atMs: number; relays: Promise<{ relays: PacRelay[]; stale: boolean }> } | null =
    null;
  const load = async () => {
    const rows = await db
      .select({
        name: nodes.name,
        region: nodes.region,
        publicAddress: nodes.publicAddress,
        lastSeenAtMs: nodes.lastSeenAtMs,
      })
      .from(nodes)
      .where(
        and(
          isNotNull(nodes.publicAddress),
          isNotNull(nodes.nodeTokenHash),
          isNull(nodes.disabledAtMs),
        ),
      );
    return pacRelays(rows, {
      nowMs: Date.now(),
      heartbeatStaleMs: options.heartbeatStaleMs,
      onBadAddress: (row) => {
        const key = `${row.name}\0${row.publicAddress}`;
        if (warned.has(key)) return;
        warned.add(key);
        logger.warn(
          { node: row.name, publicAddress: row.publicAddress },
          "public address is not host:port; left out of /proxy.pac",
        );
      },
    });
  };
  return async (request) => {
    const nowMs = Date.now();
    if (cached === null || nowMs - cached.atMs >= cacheMs) {
      const relays = load();
      cached = { atMs: nowMs, relays };
      relays.catch(() => {
        if (cached?.relays === relays) cached = null;
      });
    }
    const { relays, stale } = await cached.relays;
    const forwarded = regions.addressHeader
      ? header(request.headers, regions.addressHeader)?.split(",").at(-1)
      : undefined;
    const address =
      (forwarded === undefined ? undefined : parseClientAddress(forwarded)) ??
      parseClientAddress(request.remoteAddress ?? "");
    const countryValue = header(request.headers, regions.countryHeader)?.trim();
    const country = countryValue && /^[A-Za-z]{2}$/.test(countryValue) ? countryValue : undefined;
    return buildPac(relays, {
      order: regionOrder(regions, { address, country }),
      direct: regions.direct,
      clientKey: address?.toString() ?? "",
      ...(stale ? { comment: "No relay heartbeat is recent: listing every known relay." } : {}),
    });
  };
}
