import { readFileSync } from "node:fs";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { ControlError } from "./errors";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Which regions a client of `GET /proxy.pac` tries first, by its network or country. */
export interface PacRegions {
  /** Most specific first. */
  readonly networks: readonly { range: [Address, number]; regions: readonly string[] }[];
  readonly countries: ReadonlyMap<string, readonly string[]>;
  /** For every client after its mapped regions; regions listed nowhere come last, by name. */
  readonly defaultOrder: readonly string[];
  /** Append `DIRECT` after the relays (fail open). @default false */
  readonly direct: boolean;
  /** Request header with the client's ISO country code, set by a CDN. @default "x-client-country" */
  readonly countryHeader: string;
  /** Request header with the client's address (its last entry), set by a proxy in front; null: the TCP peer. */
  readonly addressHeader: string | null;
}

const Region = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "a region name: letters, digits, . _ - (at most 63)");
const Regions = z.array(Region).min(1, "at least one region");
const HeaderName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,100}$/, "an HTTP header name")
  .transform((h) => h.toLowerCase());
const Cidr = z.string().transform((text, ctx): [Address, number] => {
  try {
    return ipaddr.parseCIDR(text);
  } catch {
    ctx.addIssue({
      code: "custom",
      message: `"${text}" is not a CIDR (10.0.0.0/8, 2001:db8::/32)`,
    });
    return z.NEVER;
  }
});
const Country = z
  .string()
  .regex(/^[A-Za-z]{2}$/, "an ISO 3166-1 alpha-2 country code (DE, IN, …)")
  .transform((c) => c.toUpperCase());

/** The mapping as written: the JSON file's shape, and what the inline form is converted to. */
const PacRegionsConfig = z.strictObject({
  /** CIDR → regions, e.g. `{"10.0.0.0/8": ["eu-west", "us-east"]}`. */
  networks: z.record(z.string(), Regions).default({}),
  /** ISO country code → regions. */
  countries: z.record(z.string(), Regions).default({}),
  default: Regions.optional(),
  direct: z.boolean().default(false),
  countryHeader: HeaderName.default("x-client-country"),
  addressHeader: HeaderName.optional(),
});

const INLINE_KEYS = new Map<string, keyof z.input<typeof PacRegionsConfig>>([
  ["default", "default"],
  ["direct", "direct"],
  ["country-header", "countryHeader"],
  ["address-header", "addressHeader"],
]);

/** `10.0.0.0/8=eu-west,us-east;country:IN=ap-south;default=us-east;direct=false` → config shape. */
function inlineToConfig(text: string): unknown {
  const config: Record<string, unknown> = {};
  const networks: Record<string, string[]> = {};
  const countries: Record<string, string[]> = {};
  for (const entry of text
    .split(";")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const at = entry.indexOf("=");
    if (at <= 0) throw new Error(`"${entry}" is not KEY=VALUE`);
    const key = entry.slice(0, at).trim();
    const value = entry.slice(at + 1).trim();
    const list = value
      .split(",")
      .map((r) => r.trim())
      .filter(Boolean);
    const field = INLINE_KEYS.get(key);
    if (field === "direct")
      config.direct = value === "true" ? true : value === "false" ? false : value;
    else if (field === "default") config.default = list;
    else if (field !== undefined) config[field] = value;
    else if (key.startsWith("country:")) countries[key.slice("country:".length)] = list;
    else networks[key] = list;
  }
  return { ...config, networks, countries };
}

const where = (path: readonly PropertyKey[]) =>
  path.length === 0 ? "" : `${path.map(String).join(".")}: `;

/**
 * Parses `EDGESOCKS_PAC_REGIONS`: inline `;`-separated entries (`CIDR=r1,r2`, `country:CC=r1`,
 * `default=r1,r2`, `direct=true|false`, `country-header=NAME`, `address-header=NAME`), or, when
 * the value has neither `=` nor `;`, the path of a JSON file with the same content. Empty: no mapping.
 * Throws CONTROL_E_ENV naming the bad entry.
 */
export function parsePacRegions(
  text: string,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): PacRegions {
  const fail = (message: string, cause?: unknown) =>
    new ControlError("CONTROL_E_ENV", `EDGESOCKS_PAC_REGIONS: ${message}`, { cause });
  let raw: unknown;
  const source = text.trim();
  if (source === "" || /[=;]/.test(source)) {
    try {
      raw = inlineToConfig(source);
    } catch (cause) {
      throw fail((cause as Error).message, cause);
    }
  } else {
    try {
      raw = JSON.parse(readFile(source));
    } catch (cause) {
      throw fail(`${source}: ${(cause as Error).message}`, cause);
    }
  }
  const parsed = PacRegionsConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw fail(`${where(issue.path)}${issue.message}`);
  }
  const config = parsed.data;
  const networks = Object.entries(config.networks).map(([cidr, regions]) => {
    const range = Cidr.safeParse(cidr);
    if (!range.success) throw fail(range.error.issues[0]!.message);
    return { range: range.data, regions };
  });
  const countries = new Map<string, readonly string[]>();
  for (const [code, regions] of Object.entries(config.countries)) {
    const country = Country.safeParse(code);
    if (!country.success) throw fail(`country "${code}": ${country.error.issues[0]!.message}`);
    countries.set(country.data, regions);
  }
  return Object.freeze({
    networks: networks.sort((a, b) => b.range[1] - a.range[1]),
    countries,
    defaultOrder: config.default ?? [],
    direct: config.direct,
    countryHeader: config.countryHeader,
    addressHeader: config.addressHeader ?? null,
  });
}

/** An address as ipaddr understands it (IPv4-mapped IPv6 → IPv4); undefined when not one. */
export function parseClientAddress(text: string): Address | undefined {
  try {
    return ipaddr.process(text.trim());
  } catch {
    return undefined;
  }
}

/**
 * The region order for one client: the most specific matching network's regions, else its
 * country's, then the default order; each region once.
 */
export function regionOrder(
  regions: PacRegions,
  client: { address: Address | undefined; country: string | undefined },
): string[] {
  const { address } = client;
  const network =
    address === undefined
      ? undefined
      : regions.networks.find(
          ({ range }) => address.kind() === range[0].kind() && address.match(range),
        );
  const country = client.country?.toUpperCase();
  const mapped =
    network?.regions ?? (country === undefined ? undefined : regions.countries.get(country)) ?? [];
  return [...new Set([...mapped, ...regions.defaultOrder])];
}
