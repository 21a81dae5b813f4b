import { isIpv4Mapped, parseIpv4, parseIpv6Words, parseNetwork } from "@edgesocks/socks/address";
import { type CountryLookup, isCountryPattern, parseCountryPattern } from "./country";
import { type Destination, destinationMatches, type MatchTarget } from "./destination";
import type { CompiledSchedule } from "./schedule";

/** One entry of a rule's `sources`: the client's IP, CIDR or `country:XX`. */
export type Source = Extract<Destination, { kind: "ip" } | { kind: "country" }>;

export type SourceResult = { ok: true; source: Source } | { ok: false; error: string };

/** Parses one `sources` entry: an IPv4/IPv6 address or CIDR, or `country:XX`. */
export function parseSource(pattern: string): SourceResult {
  if (isCountryPattern(pattern)) {
    const parsed = parseCountryPattern(pattern);
    return parsed.ok ? { ok: true, source: { kind: "country", code: parsed.code } } : parsed;
  }
  const parsed = parseNetwork(pattern);
  if (parsed.ok) return { ok: true, source: { kind: "ip", network: parsed.network } };
  return {
    ok: false,
    error: `"${pattern}" is not a source: use an IP address, a CIDR or country:XX`,
  };
}

/** What conditions are checked against, for one evaluate(); filled in lazily. */
export interface EvalContext {
  now: number;
  client: string | undefined;
  countryOf: CountryLookup | undefined;
  /** The client as a match target, once a rule with sources asked. */
  clientTarget: MatchTarget | undefined;
}

/** The v4/v6 words of one IP literal (v4-mapped IPv6 as IPv4); empty lists for anything else. */
export function ipTarget(address: string | undefined, countryOf?: CountryLookup): MatchTarget {
  const v4: number[] = [];
  const v6: Uint32Array[] = [];
  if (address !== undefined) {
    const parsedV4 = parseIpv4(address);
    const words = new Uint32Array(4);
    const zone = address.indexOf("%");
    if (parsedV4 >= 0) v4.push(parsedV4);
    else if (parseIpv6Words(address, words, 0, zone < 0 ? address.length : zone)) {
      if (isIpv4Mapped(words)) v4.push(words[3]!);
      else v6.push(words);
    }
  }
  const isIp = v4.length + v6.length > 0;
  const country = isIp && countryOf ? countryOf(address!) : null;
  return { v4, v6, name: null, countries: country === null ? [] : [country] };
}

/**
 * The parts of a rule beyond destination, port and protocol: its time window and the clients it
 * applies to. Null on a rule without either, so plain rules cost nothing.
 */
export class RuleConditions {
  constructor(
    readonly schedule: CompiledSchedule | null,
    readonly sources: readonly Source[] | null,
  ) {}

  holds(ctx: EvalContext): boolean {
    if (this.schedule !== null && !this.schedule.isActive(ctx.now)) return false;
    if (this.sources === null) return true;
    ctx.clientTarget ??= ipTarget(ctx.client, ctx.countryOf);
    const client = ctx.clientTarget;
    return this.sources.some((source) => destinationMatches(source, client));
  }
}
