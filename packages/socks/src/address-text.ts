/**
 * `@edgesocks/socks/address`: the one place IP, CIDR and host:port text is parsed and formatted,
 * for the relay's hot path, the policy engine, the control plane and the admin app alike. Pure
 * and browser-safe: no node: imports (a test keeps it so).
 */
import { formatIpv4Value, parseIp } from "./ip-text";
import { formatIpv6 } from "./ipv6";

export {
  type IpNetwork,
  type KeyRange,
  type NetworkResult,
  networkContains,
  networkKeyRange,
  parseNetwork,
  v4InNetwork,
  v6InNetwork,
} from "./cidr-text";
export { formatHostPort, type HostPort, parseHostPort, splitHostPort } from "./host-port";
export {
  addressKey,
  formatIpv4Value,
  type IpFamilyOptions,
  type IpValue,
  ipBucketKey,
  ipFamily,
  isIpv4Mapped,
  maskV4,
  maskV6Word,
  parseIp,
  parseIpv4,
  parseIpv6Words,
} from "./ip-text";

const bytes = new Uint8Array(16);

/**
 * The canonical text of an IP literal as node:net prints it (lowercase, shortest IPv6 form),
 * IPv4-mapped IPv6 as its IPv4 address; null when `text` is not an IP literal (no zone id).
 */
export function canonicalIp(text: string): string | null {
  const ip = parseIp(text);
  if (ip === null) return null;
  if (ip.family === 4) return formatIpv4Value(ip.value);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 4; i++) view.setUint32(4 * i, ip.words[i]!);
  return formatIpv6(bytes, 0);
}
