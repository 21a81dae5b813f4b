import { Buffer } from "node:buffer";
import { ipFamily } from "@edgesocks/socks/address";
import { z } from "zod";
import { RouteName } from "./rule-schema";
import { text } from "./text";

/*
 * Upstream routes: a rule may send its CONNECTs through a chain of parent proxies instead of
 * connecting directly. A route is a list of alternative chains (tried in the selector's order,
 * failing over to the next); a chain is one or more hops, each reached through the previous one.
 * Hops carry their own credentials only: a client's credentials are never sent upstream.
 */

/** Hops in one chain at most: every hop adds a handshake round trip and a point of failure. */
export const MAX_ROUTE_HOPS = 8;
/** Alternative chains in one route at most. */
export const MAX_ROUTE_CHAINS = 16;

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

/** An IP literal (IPv6 without brackets) or a DNS name. */
const HopHost = z
  .string()
  .min(1)
  .max(253)
  .refine(
    (host) => ipFamily(host) !== 0 || HOSTNAME.test(host),
    "must be an IPv4 or IPv6 address (no brackets) or a DNS name",
  );

const Port = z.int().min(1).max(65535);

function utf8Bytes(value: string): number {
  return Buffer.byteLength(value, "utf8");
}

/** RFC 1929: 1 to 255 bytes each. */
const Rfc1929Field = text({ min: 1, max: 255 }).refine(
  (value) => utf8Bytes(value) <= 255,
  "must be 1 to 255 bytes of UTF-8 (RFC 1929)",
);

const Socks5Hop = z.strictObject({
  type: z.literal("socks5"),
  host: HopHost,
  port: Port,
  /** RFC 1929 username; set together with `password`. */
  username: Rfc1929Field.optional(),
  password: Rfc1929Field.optional(),
});

const Socks4aHop = z.strictObject({
  type: z.literal("socks4a"),
  host: HopHost,
  port: Port,
  /** The USERID field (SOCKS4 has no password). @default "" */
  userId: text({ max: 255 })
    .refine((value) => utf8Bytes(value) <= 255, "must be at most 255 bytes of UTF-8")
    .optional(),
});

const HttpHop = z.strictObject({
  type: z.literal("http"),
  host: HopHost,
  port: Port,
  /** Basic credentials (RFC 7617); set together with `password`. */
  username: text({ min: 1, max: 255 })
    .refine((value) => !value.includes(":"), 'must not contain ":" (Basic credentials)')
    .optional(),
  password: text({ min: 1, max: 255 }).optional(),
});

export const RouteHop = z
  .discriminatedUnion("type", [Socks5Hop, Socks4aHop, HttpHop])
  .superRefine((hop, ctx) => {
    if (hop.type === "socks4a") return;
    if ((hop.username === undefined) !== (hop.password === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [hop.username === undefined ? "username" : "password"],
        message: "set username and password together, or neither",
      });
    }
  });
export type RouteHop = z.infer<typeof RouteHop>;

/** PROXY protocol versions a chain can speak to its first hop. */
export const PROXY_PROTOCOL_VERSIONS = ["v1", "v2"] as const;

export const RouteChain = z.strictObject({
  /**
   * Write a PROXY protocol header (HAProxy's v1 text or v2 binary) on the TCP connection to the
   * first hop before any handshake byte, naming the SOCKS client as source and the first hop as
   * destination. Per chain: the chain owns that one connection, and only its first hop sees it.
   * Absent: no header.
   */
  proxyProtocol: z
    .enum(PROXY_PROTOCOL_VERSIONS, {
      error: 'must be "v1" or "v2" (PROXY protocol version for the first hop)',
    })
    .optional(),
  hops: z.array(RouteHop).min(1).max(MAX_ROUTE_HOPS),
});
export type RouteChain = z.infer<typeof RouteChain>;

export const Route = z.strictObject({
  name: RouteName,
  /**
   * Where the destination name is resolved: "local" (the relay resolves it, so the ACL sees the
   * addresses and the last hop gets an IP) or "remote" (the last hop gets the name unresolved; no
   * DNS query leaves the relay). Required: the two differ in what the ACL can check.
   */
  resolve: z.enum(["local", "remote"]),
  /** Which chain is tried first; the others follow in order. @default "failover" */
  selector: z.enum(["failover", "round", "random"]).default("failover"),
  /** Failures in a row after which a hop is skipped. @default 1 */
  maxFails: z.int().min(1).max(1000).default(1),
  /** How long a failed hop is skipped (s). @default 30 */
  failTimeoutSecs: z.int().min(1).max(86_400).default(30),
  chains: z.array(RouteChain).min(1).max(MAX_ROUTE_CHAINS),
});
export type Route = z.infer<typeof Route>;
export type RouteInput = z.input<typeof Route>;
