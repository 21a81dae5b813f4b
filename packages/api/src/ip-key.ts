import ipaddr from "ipaddr.js";

/**
 * An IP address as 32 hex digits of its 16-byte IPv6 form (IPv4 as ::ffff:a.b.c.d), so that
 * every CIDR is one contiguous, index-friendly text range. Null when `text` is not an address.
 */
export function addressKey(text: string | null): string | null {
  if (text === null || !ipaddr.isValid(text)) return null;
  const parsed = ipaddr.process(text.split("%")[0]!);
  const bytes = parsed.kind() === "ipv4" ? toMapped(parsed.toByteArray()) : parsed.toByteArray();
  return Buffer.from(bytes).toString("hex");
}

function toMapped(v4: number[]): number[] {
  return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4];
}

/** The inclusive key range of a CIDR (or a single address), or null when it is neither. */
export function cidrKeyRange(
  text: string,
): { low: string; high: string; prefixBits: number } | null {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    if (text.includes("/")) [address, prefix] = ipaddr.parseCIDR(text);
    else {
      if (!ipaddr.isValid(text)) return null;
      address = ipaddr.parse(text);
      prefix = address.kind() === "ipv4" ? 32 : 128;
    }
  } catch {
    return null;
  }
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    prefix = Math.max(0, prefix - 96);
  }
  const bytes = address.kind() === "ipv4" ? toMapped(address.toByteArray()) : address.toByteArray();
  const bits = address.kind() === "ipv4" ? prefix + 96 : prefix;
  const low = [...bytes];
  const high = [...bytes];
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    low[i] = low[i]! & mask;
    high[i] = (high[i]! & mask) | (~mask & 0xff);
  }
  return {
    low: Buffer.from(low).toString("hex"),
    high: Buffer.from(high).toString("hex"),
    /** The prefix length in the 128-bit space (an IPv4 /24 is 120). */
    prefixBits: bits,
  };
}
