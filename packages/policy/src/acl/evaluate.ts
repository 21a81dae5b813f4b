import { isIpv4Mapped, parseIpv4, parseIpv6Words } from "@edgesocks/socks/address";
import { hashV6 } from "./cidr";
import { ACL_DISABLED, type CompiledAcl } from "./compile";
import { type CompiledRule, PROTOCOL_TCP, PROTOCOL_UDP } from "./compiled-rule";
import type { EvalContext } from "./conditions";
import { destinationMatches, type MatchTarget, normalizeName } from "./destination";
import type { PatternEntry, PrincipalIndex } from "./principal-index";
import type { AclRequest, Decision, Explanation } from "./types";

/** No rule found yet: higher than any rank. */
const NONE = 0x7fffffff;

// Scratch space for parsing IPv6 on the hot path; evaluate() never yields, so one is enough.
const words = new Uint32Array(4);
// The request as rule conditions read it; filled in only when the user's rules have conditions.
const ctx: EvalContext = {
  now: 0,
  client: undefined,
  countryOf: undefined,
  clientTarget: undefined,
};

/** Lowest rank in a rank-sorted bucket that also accepts port and protocol, or `best`. */
function scan(
  bucket: readonly CompiledRule[] | undefined,
  best: number,
  port: number,
  protocol: number,
): number {
  if (bucket === undefined) return best;
  for (let i = 0; i < bucket.length; i++) {
    const rule = bucket[i]!;
    if (rule.rank >= best) return best;
    if (rule.accepts(port, protocol, ctx)) return rule.rank;
  }
  return best;
}

function scanPatterns(
  entries: readonly PatternEntry[] | undefined,
  name: string,
  labels: number,
  best: number,
  port: number,
  protocol: number,
): number {
  if (entries === undefined) return best;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const rank = entry.rule.rank;
    if (rank >= best) return best;
    // Label count and literal prefix rule out most names before the regex runs.
    if (entry.anyDepth ? labels < entry.labels : labels !== entry.labels) continue;
    if (!name.startsWith(entry.literalPrefix) || !entry.rule.accepts(port, protocol, ctx)) continue;
    if (entry.regex.test(name)) return rank;
  }
  return best;
}

function scanV4(
  index: PrincipalIndex,
  address: number,
  best: number,
  port: number,
  protocol: number,
): number {
  const { shifts, maps } = index.v4;
  for (let i = 0; i < maps.length; i++) {
    const shift = shifts[i]!;
    best = scan(maps[i]!.get(shift === 32 ? 0 : address >>> shift), best, port, protocol);
  }
  return best;
}

function scanV6(index: PrincipalIndex, best: number, port: number, protocol: number): number {
  const { prefixes, maps } = index.v6;
  for (let i = 0; i < maps.length; i++) {
    const prefix = prefixes[i]!;
    const w0 = maskWord(words[0]!, prefix, 0);
    const w1 = maskWord(words[1]!, prefix, 32);
    const w2 = maskWord(words[2]!, prefix, 64);
    const w3 = maskWord(words[3]!, prefix, 96);
    const chain = maps[i]!.get(hashV6(w0, w1, w2, w3));
    if (chain === undefined) continue;
    for (let j = 0; j < chain.length; j++) {
      const bucket = chain[j]!;
      const net = bucket.net;
      if (net[0] === w0 && net[1] === w1 && net[2] === w2 && net[3] === w3) {
        best = scan(bucket.items, best, port, protocol);
      }
    }
  }
  return best;
}

function maskWord(word: number, prefix: number, offset: number): number {
  const bits = prefix - offset;
  if (bits >= 32) return word;
  if (bits <= 0) return 0;
  return (word & (0xffffffff << (32 - bits))) >>> 0;
}

/** scanIp() result when the text is not an IP literal. */
const NOT_IP = -1;

/**
 * Matches an IP literal (v4, v6 or v4-mapped v6; a zone id is ignored) against the IP rules and
 * returns the new best rank, or NOT_IP when `text` is not an IP literal.
 */
function scanIp(
  index: PrincipalIndex,
  text: string,
  best: number,
  port: number,
  protocol: number,
): number {
  const v4 = parseIpv4(text);
  if (v4 >= 0) return index.v4.size === 0 ? best : scanV4(index, v4, best, port, protocol);
  const zone = text.indexOf("%");
  if (!parseIpv6Words(text, words, 0, zone < 0 ? text.length : zone)) return NOT_IP;
  if (isIpv4Mapped(words)) {
    return index.v4.size === 0 ? best : scanV4(index, words[3]!, best, port, protocol);
  }
  return index.v6.size === 0 ? best : scanV6(index, best, port, protocol);
}

function scanName(
  index: PrincipalIndex,
  host: string,
  best: number,
  port: number,
  protocol: number,
): number {
  const name = normalizeName(host);
  const names = index.names;
  const own = names.get(name);
  if (own !== undefined) best = scan(own.exact, best, port, protocol);
  let labels = 1;
  for (let dot = name.indexOf("."); dot >= 0; dot = name.indexOf(".", dot + 1)) labels++;
  if (index.probesSuffixes) {
    for (let dot = name.indexOf("."); dot >= 0; dot = name.indexOf(".", dot + 1)) {
      const bucket = names.get(name.slice(dot + 1));
      if (bucket === undefined) continue;
      best = scan(bucket.below, best, port, protocol);
      best = scanPatterns(bucket.patterns, name, labels, best, port, protocol);
    }
  }
  return scanPatterns(index.unanchoredPatterns, name, labels, best, port, protocol);
}

/**
 * Decides one request: the user's rules and those of their groups; a matching block beats any
 * matching allow; among the same action, higher priority first, then earlier rule; no match →
 * the default policy. Returns a shared, frozen Decision naming the deciding rule.
 */
export function evaluate(acl: CompiledAcl, req: AclRequest): Decision {
  if (!acl.enabled) return ACL_DISABLED;
  const index = acl.indexFor(req.user, req.groups);
  if (index.rules.length === 0) return acl.defaultDecision;
  const port = req.port;
  const protocol = req.protocol === "udp" ? PROTOCOL_UDP : PROTOCOL_TCP;
  if (index.conditional) {
    ctx.now = req.now ?? Date.now();
    ctx.client = req.client;
    ctx.countryOf = req.countryOf;
    ctx.clientTarget = undefined;
  }
  let best = scan(index.any, NONE, port, protocol);

  const host = req.host;
  const address = req.address;
  const byHost = scanIp(index, host, best, port, protocol);
  best = byHost === NOT_IP ? scanName(index, host, best, port, protocol) : byHost;
  if (address !== undefined && address !== host) {
    const byAddress = scanIp(index, address, best, port, protocol);
    // An address that is not an IP cannot match IP rules; the name was matched above.
    if (byAddress !== NOT_IP) best = byAddress;
  }
  // Countries come from the address the relay connects to, never from a name alone.
  if (index.countries.size > 0 && req.countryOf !== undefined) {
    const ip = address ?? (byHost === NOT_IP ? undefined : host);
    const code = ip === undefined ? null : req.countryOf(ip);
    if (code !== null) best = scan(index.countries.get(code), best, port, protocol);
  }
  return best === NONE ? acl.defaultDecision : acl.ranked[best]!.decision;
}

function addTarget(text: string, v4: number[], v6: Uint32Array[]): boolean {
  const parsedV4 = parseIpv4(text);
  if (parsedV4 >= 0) {
    v4.push(parsedV4);
    return true;
  }
  const zone = text.indexOf("%");
  const parsed = new Uint32Array(4);
  if (!parseIpv6Words(text, parsed, 0, zone < 0 ? text.length : zone)) return false;
  if (isIpv4Mapped(parsed)) v4.push(parsed[3]!);
  else v6.push(parsed);
  return true;
}

/** The request as the straightforward matcher sees it. */
export function matchTarget(req: AclRequest): MatchTarget {
  const v4: number[] = [];
  const v6: Uint32Array[] = [];
  const hostIsIp = addTarget(req.host, v4, v6);
  const addressIsIp = req.address !== undefined && addTarget(req.address, v4, v6);
  const ip = addressIsIp ? req.address : hostIsIp ? req.host : undefined;
  const country = ip !== undefined && req.countryOf ? req.countryOf(ip) : null;
  return {
    v4,
    v6,
    name: hostIsIp ? null : normalizeName(req.host),
    countries: country === null ? [] : [country],
  };
}

/** True when `rule` matches the request (destination, port, protocol, schedule and sources). */
export function ruleMatches(rule: CompiledRule, target: MatchTarget, req: AclRequest): boolean {
  const context: EvalContext = {
    now: req.now ?? Date.now(),
    client: req.client,
    countryOf: req.countryOf,
    clientTarget: undefined,
  };
  return (
    rule.accepts(req.port, req.protocol === "udp" ? PROTOCOL_UDP : PROTOCOL_TCP, context) &&
    rule.destinations.some((d) => destinationMatches(d, target))
  );
}

/** evaluate(), plus every rule that applies to the user and whether it matched (for `acl.test`). */
export function explain(acl: CompiledAcl, req: AclRequest): Explanation {
  if (!acl.enabled) return { decision: ACL_DISABLED, considered: [] };
  const target = matchTarget(req);
  const considered = acl
    .indexFor(req.user)
    .rules.map((rule) => ({ rule: rule.rule, matched: ruleMatches(rule, target, req) }));
  return { decision: evaluate(acl, req), considered };
}
