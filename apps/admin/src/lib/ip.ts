/**
 * IP literal and CIDR checks for form fields. Same rules as the relays' ACL engine
 * (@edgesocks/policy): no leading zeros or short forms in IPv4, any valid IPv6 form with an
 * optional dotted IPv4 tail, no zone ids. Pure: the browser bundle must not pull the policy
 * package in (its entry point needs node:crypto).
 */

/** True for a dotted quad such as `10.0.0.1`. */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  return parts.every((part) => /^(0|[1-9][0-9]{0,2})$/.test(part) && Number(part) <= 255);
}

/** True for any valid IPv6 text form (`::1`, `2001:db8::`, `::ffff:10.0.0.1`). */
export function isIpv6(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false;
  let body = text;
  let tailGroups = 0;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.indexOf(".", lastColon) > lastColon) {
    // A dotted quad can only be the final 32 bits.
    if (!isIpv4(text.slice(lastColon + 1))) return false;
    body = `${text.slice(0, lastColon + 1)}0`;
    tailGroups = 1;
  }
  const halves = body.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (half: string) => (half === "" ? [] : half.split(":"));
  const groups = halves.flatMap(groupsOf);
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const count = groups.length + tailGroups;
  // "::" stands for at least one zero group.
  return halves.length === 2 ? count <= 7 : count === 8;
}

export function isIpAddress(text: string): boolean {
  return isIpv4(text) || isIpv6(text);
}

/** An error message for an invalid IP literal or CIDR, or null when it is valid. */
export function cidrError(text: string): string | null {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const v4 = isIpv4(address);
  if (!v4 && !isIpv6(address)) {
    if (slash >= 0) return `"${text}" is not a valid CIDR`;
    return `"${text}" is not a valid ${address.includes(":") ? "IPv6" : "IPv4"} address`;
  }
  if (slash < 0) return null;
  const max = v4 ? 32 : 128;
  const prefix = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > max) {
    return `"${text}" is not a valid CIDR (prefix must be 0-${max})`;
  }
  return null;
}
