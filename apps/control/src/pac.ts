import ipaddr from "ipaddr.js";
import { z } from "zod";

/** Which regions a client should try first, by its network or country. */
export interface PacMapping {
  networks: { range: [ipaddr.IPv4 | ipaddr.IPv6, number]; regions: string[] }[];
  countries: Map<string, string[]>;
  /** For clients no rule maps; regions not listed anywhere come after these. */
  defaultOrder: string[];
}

const Region = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);

/**
 * Parses `EDGESOCKS_PAC_REGIONS`: `;`-separated entries, each `CIDR=r1,r2`,
 * `country:CC=r1,r2` or `default=r1,r2`. Throws with the bad entry named.
 */
export function parsePacMapping(text: string): PacMapping {
  const mapping: PacMapping = { networks: [], countries: new Map(), defaultOrder: [] };
  for (const entry of text
    .split(";")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [key, value] = entry.split("=");
    const regions = (value ?? "")
      .split(",")
      .map((r) => r.trim())
      .filter(Boolean);
    if (!key || regions.length === 0 || !regions.every((r) => Region.safeParse(r).success)) {
      throw new Error(`EDGESOCKS_PAC_REGIONS: "${entry}" is not KEY=region[,region...]`);
    }
    if (key === "default") mapping.defaultOrder = regions;
    else if (key.startsWith("country:")) mapping.countries.set(key.slice(8).toUpperCase(), regions);
    else {
      try {
        mapping.networks.push({ range: ipaddr.parseCIDR(key), regions });
      } catch (cause) {
        throw new Error(`EDGESOCKS_PAC_REGIONS: "${key}" is not a CIDR, country:CC or default`, {
          cause,
        });
      }
    }
  }
  return mapping;
}

/** The region order for one client: its network's, else its country's, else the default. */
export function regionOrder(mapping: PacMapping, clientIp: string, country?: string): string[] {
  let address: ipaddr.IPv4 | ipaddr.IPv6 | undefined;
  try {
    address = ipaddr.process(clientIp);
  } catch {
    address = undefined;
  }
  if (address) {
    let best: { bits: number; regions: string[] } | undefined;
    for (const { range, regions } of mapping.networks) {
      if (
        address.kind() === range[0].kind() &&
        address.match(range) &&
        (!best || range[1] > best.bits)
      ) {
        best = { bits: range[1], regions };
      }
    }
    if (best) return [...best.regions, ...mapping.defaultOrder];
  }
  const byCountry = country ? mapping.countries.get(country.toUpperCase()) : undefined;
  return [...(byCountry ?? []), ...mapping.defaultOrder];
}

/**
 * A PAC file listing relays nearest-first (by region order, then name), so
 * browsers fail over to the next relay by themselves. No DIRECT at the end:
 * a client configured to use the fleet must not silently bypass its policy.
 */
export function buildPac(
  relays: { name: string; region: string; address: string }[],
  order: string[],
): string {
  const rank = (region: string) => {
    const i = order.indexOf(region);
    return i === -1 ? order.length : i;
  };
  const sorted = [...relays].sort(
    (a, b) => rank(a.region) - rank(b.region) || a.name.localeCompare(b.name),
  );
  const proxies = sorted.flatMap((r) => [`SOCKS5 ${r.address}`, `SOCKS ${r.address}`]).join("; ");
  return `// EdgeSocks relays, nearest first (generated ${new Date().toISOString()})
function FindProxyForURL(url, host) {
  return ${JSON.stringify(proxies || "DIRECT")};
}
`;
}
