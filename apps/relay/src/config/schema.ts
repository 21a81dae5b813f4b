import { isTimeZone, QUOTA_PERIODS } from "@edgesocks/policy";
import { text } from "@edgesocks/policy/text";
import { ipFamily, parseNetwork, splitHostPort } from "@edgesocks/socks/address";
import { z } from "zod";
import { DEFAULT_BLOCKED_NETWORKS, parseCidr } from "../net/egress-guard";
import { parsePoolDestination } from "../net/upstream-pool";

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();
const logLevel = z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

/** A file path: PATH_MAX (4096) at most. */
const path = text({ min: 1, max: 4096 });

/** `[server.tls]`: SOCKS over TLS, on its own port beside the plain listener when `bind_port` is set. */
export const TlsConfig = z.object({
  enabled: z.boolean().default(false),
  certificate_path: path.optional(),
  private_key_path: path.optional(),
  min_protocol_version: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
  require_client_auth: z.boolean().default(false),
  client_ca_path: path.optional(),
  /** Serve TLS on this port and keep plain SOCKS on `server.bind_port`; unset: the main port speaks TLS. */
  bind_port: port.optional(),
  /** With mutual TLS, use the client certificate's subject CN as the SOCKS user. */
  tls_client_cert_as_user: z.boolean().default(false),
});

/** An IP literal, IPv6 zone ids allowed (`fe80::1%eth0`), as node:net accepts it. */
const isIp = (v: string) => ipFamily(v, { zone: true }) !== 0;

/** An address to listen on: an IP literal (a name could resolve to anything, or to nothing). */
const listenAddress = text({ max: 300 }).refine(isIp, {
  error: 'expected an IP address to listen on, e.g. "127.0.0.1", "0.0.0.0" or "::"',
});

/** `ip:port` to listen on, IPv6 in brackets; port 0 picks a free one. */
const listenHostPort = text({ max: 300 }).refine(
  (text) => {
    const split = splitHostPort(text);
    return split !== undefined && isIp(split.host);
  },
  { error: 'expected "IP:PORT" to listen on, e.g. "127.0.0.1:9100" or "[::1]:9100"' },
);

const hostPort = text({ max: 300 }).refine((text) => parsePoolDestination(text) !== undefined, {
  error: 'expected "host:port" (IPv6 as "[::1]:443")',
});

/** `[server.pool]`: pre-established upstream connections for listed destinations. */
export const PoolConfig = z.object({
  enabled: z.boolean().default(false),
  /** Destinations to keep connections ready for, as "host:port". */
  destinations: z.array(hostPort).default([]),
  /** Ready connections kept per destination. */
  connections_per_destination: positiveInt.default(2),
  /** Ready connections kept in all; past it the least recently used destination gives one up. */
  max_connections: positiveInt.default(64),
  /** A ready connection unused this long is closed and replaced (servers drop idle connections). */
  idle_timeout_secs: positiveInt.default(30),
});

export const ServerConfig = z.object({
  bind_address: listenAddress.default("127.0.0.1"),
  bind_port: port.default(1080),
  max_connections: positiveInt.default(10000),
  handshake_timeout_ms: positiveInt.default(10000),
  idle_timeout_secs: positiveInt.default(300),
  connect_timeout_ms: positiveInt.default(10000),
  /** How long SIGTERM waits for open sessions before closing them. */
  shutdown_grace_ms: z.number().int().min(0).default(10000),
  /** Connections still in their SOCKS handshake at once; the oldest is dropped to admit a new one. */
  max_pending_handshakes: positiveInt.default(1000),
  /** The same per client address; past it, that address's own oldest handshake is dropped. */
  max_pending_handshakes_per_client: positiveInt.default(256),
  /**
   * Threads serving SOCKS, each with its own listener on the port (SO_REUSEPORT);
   * "auto": one per CPU core (one on a one-core machine, so it costs nothing
   * there). Connection limits and QoS hold across them.
   * @default "auto"
   */
  workers: z.union([positiveInt.max(64), z.literal("auto")]).default("auto"),
  tls: TlsConfig.optional(),
  /**
   * HAProxy's PROXY protocol header from a load balancer: "off", "v1", "v2" or "any". Only
   * sources in `proxy_protocol_trusted` may send it, and they must.
   */
  proxy_protocol: z.enum(["off", "v1", "v2", "any"]).default("off"),
  /** Load balancers (IP addresses or CIDRs) whose PROXY headers are believed. */
  proxy_protocol_trusted: z
    .array(
      text({ max: 64 }).refine((text) => parseNetwork(text).ok, {
        error: 'expected an IP address or CIDR, e.g. "10.0.0.0/8"',
      }),
    )
    .default([]),
  pool: PoolConfig.default(PoolConfig.parse({})),
});

/** `quota = { bytes, period, direction, on_exhaust, throttle_bytes_per_sec }` of a user or group. */
export const QuotaConfig = z
  .object({
    bytes: positiveInt.max(Number.MAX_SAFE_INTEGER),
    period: z.enum(QUOTA_PERIODS),
    direction: z.enum(["total", "up", "down"]).default("total"),
    on_exhaust: z.enum(["close", "throttle"]).default("close"),
    throttle_bytes_per_sec: positiveInt.optional(),
  })
  .superRefine((quota, ctx) => {
    if (quota.on_exhaust === "throttle" && quota.throttle_bytes_per_sec === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["throttle_bytes_per_sec"],
        message: 'on_exhaust = "throttle" needs throttle_bytes_per_sec (the rate once spent)',
      });
    }
    if (quota.on_exhaust === "close" && quota.throttle_bytes_per_sec !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["throttle_bytes_per_sec"],
        message: 'throttle_bytes_per_sec needs on_exhaust = "throttle" (here "close")',
      });
    }
  });

/** `[[auth.groups]]`: settings of a group (its members and rules come from users and acl.toml). */
export const GroupConfig = z.object({
  name: text({ min: 1, max: 255 }),
  /** Shared by all members together. */
  quota: QuotaConfig.optional(),
});

export const UserConfig = z.object({
  username: text({ min: 1, max: 255 }),
  password_hash: text({ max: 1024 }).startsWith("$argon2").optional(),
  password: text({ min: 1, max: 255 }).optional(),
  groups: z.array(text({ min: 1, max: 255 })).default([]),
  enabled: z.boolean().default(true),
  max_connections: positiveInt.optional(),
  bandwidth_bytes_per_sec: positiveInt.optional(),
  guaranteed_bandwidth_bytes_per_sec: positiveInt.optional(),
  quota: QuotaConfig.optional(),
});

/** A PAM service: a file name in /etc/pam.d. */
const pamService = text({ min: 1, max: 255 }).regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, {
  error: 'expected a PAM service name (a file name in /etc/pam.d), e.g. "rustsocks"',
});
/** A user name handed to PAM: never one that could pass for a pamtester option. */
const pamUser = text({ min: 1, max: 255 }).regex(/^[^-\s][^\s]*$/, {
  error: "expected a user name without spaces, not starting with '-'",
});

/** `[auth.pam]`, as RustSocks names it, plus the bounds of EdgeSocks' PAM process pool. */
export const PamConfig = z.object({
  /** Service for `pam.username` (RFC 1929 username and password). */
  username_service: pamService.default("rustsocks"),
  /** Service for `pam.address` (the client address alone). */
  address_service: pamService.default("rustsocks-client"),
  /** PAM_USER and PAM_RUSER of an address check. */
  default_user: pamUser.default("rhostusr"),
  default_ruser: pamUser.default("rhostusr"),
  /** Log every PAM check, allowed or not. */
  verbose: z.boolean().default(false),
  /** Refuse to start when /etc/pam.d/<service> of a method in use is missing. */
  verify_service: z.boolean().default(false),
  /** pamtester processes at once. */
  max_processes: positiveInt.max(256).default(8),
  /** PAM checks waiting for a process; past it a login is refused. */
  max_queued: z.number().int().min(0).max(10000).default(64),
  /** A PAM check still running after this long is killed and the login refused. */
  timeout_ms: positiveInt.default(5000),
  /** How long a successful PAM check is remembered (0: never). */
  cache_ttl_secs: z.number().int().min(0).default(300),
});

/** `[auth.gssapi]`, as RustSocks names it, plus Dante's NEC clear mode and a realm rule. */
export const GssapiConfig = z.object({
  /** Acceptor name: "rcmd" (any host of the service in the keytab) or "rcmd/host[@REALM]". */
  service_name: text({ min: 1, max: 255 }).default("rcmd"),
  /** Keytab with the service's keys; must be readable by the relay at start. */
  keytab_path: path.default("/etc/krb5.keytab"),
  /**
   * The most RFC 1961 per-message protection the relay grants (a client asking less gets
   * what it asked for): "integrity" (level 1), "confidentiality" (2), "selective" (the
   * client's choice, level 3 included). Unset: "integrity" (RustSocks' default), or with
   * nec_clear_mode, no protection (level 0, what curl needs).
   */
  protection_level: z
    .enum(["integrity", "confidentiality", "selective"], {
      error: (issue) =>
        `expected "integrity", "confidentiality" or "selective", got ${JSON.stringify(issue.input)}${
          ["none", "clear", "off"].includes(String(issue.input))
            ? " (for sessions without protection leave the key out and set nec_clear_mode = true)"
            : ""
        }`,
    })
    .optional(),
  /**
   * Dante's NEC-compatible clear mode (what curl's --socks5-gssapi-nec speaks): the
   * protection level travels unwrapped, and a client asking for level 0 (or a relay
   * without protection_level) runs the session without per-message protection.
   */
  nec_clear_mode: z.boolean().default(false),
  /** Realms whose "@REALM" suffix is dropped from the principal to make the user name. */
  strip_realms: z.array(text({ min: 1, max: 255 })).default([]),
  /** Log every GSS-API login, accepted or not. */
  verbose: z.boolean().default(false),
  /** The GSS-API library to load. */
  library_path: path.default("libgssapi_krb5.so.2"),
});

/** Set by the relay for every helper it runs: a config value could only contradict it. */
const RELAY_SET_ENV = new Set(["PATH", "LANG"]);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

const GroupLookupEnv = z.record(z.string(), text({ max: 4096 })).superRefine((env, ctx) => {
  const names = Object.keys(env);
  if (names.length > 64) ctx.addIssue({ code: "custom", message: "at most 64 variables" });
  for (const name of names) {
    // The name as the issue's path: zod's own key errors say only "Invalid key in record".
    if (!ENV_NAME.test(name)) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "expected an environment variable name (letters, digits, _), e.g. LD_PRELOAD",
      });
    } else if (RELAY_SET_ENV.has(name)) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "PATH and LANG are set by the relay for every helper and cannot be changed",
      });
    }
  }
});

const pamHint = (issue: { input: unknown }) =>
  String(issue.input).startsWith("pam")
    ? ' (PAM methods are "pam.address" and "pam.username")'
    : "";

export const AuthConfig = z.object({
  /** RustSocks' client-level check before the SOCKS handshake: "none" or "pam.address". */
  client_method: z
    .enum(["none", "pam.address"], {
      error: (issue) =>
        `expected "none" or "pam.address", got ${JSON.stringify(issue.input)}${pamHint(issue)}`,
    })
    .default("none"),
  socks_method: z
    .enum(["none", "userpass", "pam.address", "pam.username", "gssapi"], {
      error: (issue) =>
        `expected "none", "userpass", "pam.address", "pam.username" or "gssapi", got ${JSON.stringify(issue.input)}${pamHint(issue)}`,
    })
    .default("none"),
  users: z.array(UserConfig).default([]),
  pam: PamConfig.default(PamConfig.parse({})),
  gssapi: GssapiConfig.default(GssapiConfig.parse({})),
  /**
   * Where a user's groups come from: "config" (the policy alone) or "nss" (also the system's
   * groups of the user, `id -Gn`, as far as the policy defines them).
   */
  group_source: z.enum(["config", "nss"]).default("config"),
  /** How long a user's "nss" groups are remembered. */
  group_cache_ttl_secs: z.number().int().min(0).default(300),
  /**
   * Extra environment of the group lookup's child process only (`id -Gnz`), e.g.
   * nss_wrapper to load an NSS module (libnss_ldap, libnss_sss) for the relay's
   * lookups without changing the host's /etc/nsswitch.conf.
   */
  group_lookup_env: GroupLookupEnv.default({}),
  groups: z.array(GroupConfig).default([]),
  /** IANA time zone of quota days, weeks and months. */
  quota_timezone: text({ min: 1, max: 100 })
    .refine(isTimeZone, {
      error: (issue) =>
        `unknown time zone ${JSON.stringify(issue.input)} (expected an IANA name, e.g. "UTC" or "Europe/Berlin")`,
    })
    .default("UTC"),
});

export const AclConfig = z.object({
  enabled: z.boolean().default(false),
  config_file: path.optional(),
  watch: z.boolean().default(true),
  anonymous_user: text({ min: 1, max: 255 }).default("anonymous"),
});

export const QosConfig = z.object({
  enabled: z.boolean().default(false),
  algorithm: z.literal("htb").default("htb"),
  htb: z
    .object({
      global_bandwidth_bytes_per_sec: positiveInt.optional(),
      guaranteed_bandwidth_bytes_per_sec: positiveInt.optional(),
      max_bandwidth_bytes_per_sec: positiveInt.optional(),
      burst_size_bytes: positiveInt.optional(),
      fair_sharing_enabled: z.boolean().default(true),
    })
    .default({ fair_sharing_enabled: true }),
  connection_limits: z
    .object({
      max_connections_per_user: positiveInt.optional(),
      max_connections_global: positiveInt.optional(),
      max_connections_per_client: positiveInt.optional(),
    })
    .default({}),
});

const portRange = z
  .string()
  .regex(/^\d{1,5}-\d{1,5}$/, { error: 'expected "LOW-HIGH", e.g. "40000-40999"' })
  .transform((text, ctx) => {
    const [low, high] = text.split("-").map(Number) as [number, number];
    if (low < 1 || high > 65535 || low > high) {
      ctx.addIssue({ code: "custom", message: `"${text}" is not a port range within 1-65535` });
      return z.NEVER;
    }
    return [low, high] as const;
  });

/** `[udp]`: UDP ASSOCIATE. */
export const UdpConfig = z.object({
  enabled: z.boolean().default(true),
  /** Address announced to clients in the ASSOCIATE reply, for relays behind NAT. */
  public_address: z.string().refine(isIp, { error: "expected an IP address" }).optional(),
  /** Ports the per-association sockets bind in, for firewalls. */
  port_range: portRange.optional(),
  idle_timeout_secs: positiveInt.default(120),
  max_datagram_bytes: z.number().int().min(1).max(65507).default(65507),
});

/** `[bind]`: the SOCKS BIND command. */
export const BindConfig = z.object({
  enabled: z.boolean().default(true),
  /** How long the relay waits for the expected peer to connect. */
  timeout_ms: positiveInt.default(60000),
  /** Address the BIND port listens on and announces; default: the address the client reached. */
  external_address: z.string().refine(isIp, { error: "expected an IP address" }).optional(),
});

const ipAddress = text({ max: 64 }).refine(isIp, {
  error: "expected an IPv4 or IPv6 address",
});

export const DnsConfig = z.object({
  cache_ttl_secs: z.number().int().min(0).default(30),
  cache_max_entries: positiveInt.default(10000),
  timeout_ms: positiveInt.default(5000),
  /**
   * Static name → address answers consulted before the system resolver (like
   * gost's hosts); a list gives a name several addresses, tried as DNS answers are.
   */
  hosts: z
    .record(text({ min: 1, max: 255 }), z.union([ipAddress, z.array(ipAddress).min(1)]))
    .default({}),
});

export const OpsConfig = z.object({
  /** `host:port` of the health and metrics HTTP server; unset: no ops server. */
  bind: listenHostPort.optional(),
  /** Per-user byte counters for this many users (the rest as `_other`); 0 turns them off. */
  user_metrics_limit: z.number().int().min(0).max(10000).default(0),
});

const cidr = text({ max: 64 }).refine((text) => parseCidr(text).ok, {
  error: 'expected an IP address or CIDR, e.g. "169.254.0.0/16"',
});

/** `[egress]`: destinations refused whatever the ACL says. */
export const EgressConfig = z.object({
  /** false: the ACL alone decides (the guard is off). */
  guard_enabled: z.boolean().default(true),
  /** Never connected to; replaces the default list when set. */
  blocked_networks: z.array(cidr).default([...DEFAULT_BLOCKED_NETWORKS]),
  /** Refuse the relay's own SOCKS, TLS and ops ports on its own addresses. */
  block_own_ports: z.boolean().default(true),
  /** More ports refused on the relay's own addresses. */
  blocked_local_ports: z.array(port.min(1)).default([]),
});

/** `[geoip]`: the country database `country:XX` rules are decided with. */
export const GeoipConfig = z.object({
  /** An MMDB file (MaxMind GeoIP2/GeoLite2 Country, ip-location-db). @default the bundled iptoasn-country database */
  database_path: path.optional(),
  /** Re-read the file when it is replaced. @default true */
  watch: z.boolean().default(true),
});

export const LoggingConfig = z.object({
  level: logLevel.default("info"),
  format: z.enum(["pretty", "json"]).default("pretty"),
});

export const RelayConfig = z.object({
  server: ServerConfig.default(ServerConfig.parse({})),
  auth: AuthConfig.default(AuthConfig.parse({})),
  acl: AclConfig.default(AclConfig.parse({})),
  qos: QosConfig.default(QosConfig.parse({})),
  dns: DnsConfig.default(DnsConfig.parse({})),
  udp: UdpConfig.default(UdpConfig.parse({})),
  bind: BindConfig.default(BindConfig.parse({})),
  ops: OpsConfig.default(OpsConfig.parse({})),
  egress: EgressConfig.default(EgressConfig.parse({})),
  geoip: GeoipConfig.default(GeoipConfig.parse({})),
  logging: LoggingConfig.default(LoggingConfig.parse({})),
});

export type RelayConfig = z.infer<typeof RelayConfig>;
export type UserConfig = z.infer<typeof UserConfig>;
export type QuotaConfig = z.infer<typeof QuotaConfig>;
export type TlsConfig = z.infer<typeof TlsConfig>;
export type AuthConfig = z.infer<typeof AuthConfig>;
export type GssapiConfig = z.infer<typeof GssapiConfig>;
