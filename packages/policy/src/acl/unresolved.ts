import type { CompiledAcl } from "./compile";
import { PROTOCOL_TCP, PROTOCOL_UDP } from "./compiled-rule";
import type { EvalContext } from "./conditions";
import type { AclRequest, Decision } from "./types";

/**
 * A name sent to an upstream proxy unresolved (a route with `resolve = "remote"`) never gets an
 * address on the relay, so rules that match addresses (IPs, CIDRs, `country:XX`) cannot be
 * checked against it. Allow rules on addresses simply do not apply; a block rule on addresses
 * might, so this returns the first block rule that matches by address only and would otherwise
 * apply to the request (user, port, protocol, schedule, sources). The caller refuses the request
 * with it: fail closed, as if the name resolved into the blocked network. Null: no such rule.
 */
export function unresolvedAddressBlock(acl: CompiledAcl, req: AclRequest): Decision | null {
  if (!acl.enabled) return null;
  const rules = acl.indexFor(req.user, req.groups).rules;
  const protocol = req.protocol === "udp" ? PROTOCOL_UDP : PROTOCOL_TCP;
  const ctx: EvalContext = {
    now: req.now ?? Date.now(),
    client: req.client,
    countryOf: req.countryOf,
    clientTarget: undefined,
  };
  for (const rule of rules) {
    // Rules are in evaluation order, every block before any allow.
    if (rule.rule.action !== "block") return null;
    const byAddress = rule.destinations.some((d) => d.kind === "ip" || d.kind === "country");
    if (byAddress && rule.accepts(req.port, protocol, ctx)) return rule.decision;
  }
  return null;
}
