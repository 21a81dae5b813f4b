import type { AclRule } from "../snapshot";
import type { CountryLookup } from "./country";

export type AclAction = "allow" | "block";

/** One connection (or UDP destination) to decide. */
export interface AclRequest {
  /** Authenticated username, or the snapshot's `auth.anonymousUser`. */
  user: string;
  /** What the client asked for: a domain name or an IP literal (as SocksAddress.host). */
  host: string;
  /**
   * The resolved IP the relay will actually connect to (for a domain, after DNS; for an IP
   * request, equal to `host`). Absent before DNS: IP and CIDR rules then cannot match a name.
   */
  address?: string | undefined;
  port: number;
  protocol: "tcp" | "udp";
  /**
   * Groups the user is in beyond the snapshot's (from the system's directory), already
   * narrowed to the policy's groups by CompiledAcl.policyGroups().
   */
  groups?: readonly string[] | undefined;
  /** The client's IP, for rules with `sources`. Absent: such rules do not match. */
  client?: string | undefined;
  /** Epoch ms the schedules are evaluated at. @default Date.now() */
  now?: number | undefined;
  /**
   * The GeoIP lookup for `country:XX` patterns. Absent: country patterns match nothing. It is only
   * called when the user's rules name a country.
   */
  countryOf?: CountryLookup | undefined;
}

/** The outcome of evaluate(); shared and frozen, so never mutate one. */
export interface Decision {
  readonly action: AclAction;
  /** The deciding rule's id; null when the default policy decided (or the ACL is disabled). */
  readonly ruleId: string | null;
  readonly rule: AclRule | null;
  /** For logs and `acl.test`: `rule r12 "HTTPS anywhere" (user alice)` or `default policy block`. */
  readonly reason: string;
}

export interface Explanation {
  readonly decision: Decision;
  /** Every rule that applies to the user (own and group rules), in evaluation order. */
  readonly considered: readonly { readonly rule: AclRule; readonly matched: boolean }[];
}
