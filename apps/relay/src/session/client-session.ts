import type { Socket } from "node:net";
import { sessionId } from "@edgesocks/api/wire";
import type { CountryLookup, Decision } from "@edgesocks/policy";
import {
  addressFromHost,
  encodeReply,
  encodeSocks4Reply,
  failureReply,
  Reply,
  Socks4Reply,
  type SocksAddress,
} from "@edgesocks/socks";
import type { Logger } from "@edgesocks/telemetry";
import type { AuthBackends } from "../auth/auth-backends";
import type { CredentialVerifier } from "../auth/credentials";
import type { FailureBackoff } from "../auth/failure-backoff";
import type { GssContext } from "../auth/gssapi/gss-acceptor";
import type { LimitSlot } from "../limits/connection-limits";
import type { PendingDrop, PendingTicket } from "../limits/pending-handshakes";
import type { BoundedLabel, RelayMetrics } from "../metrics";
import type { BindListener } from "../net/bind-listener";
import { isIpv6Address, normalizeDestination } from "../net/destination";
import type { Resolver } from "../net/resolver";
import type { RouteDialer } from "../net/route-dialer";
import type { CompiledPolicy } from "../policy/compiled-policy";
import type { PolicyStore } from "../policy/policy-store";
import type { SessionMeter } from "../quota/quota-guard";
import { type ClientCodec, ClientCodecError } from "./client-codec";
import { runBind } from "./commands/bind";
import { runConnect } from "./commands/connect";
import { runUdpAssociate } from "./commands/udp-associate";
import { advanceHandshake } from "./handshake";
import { type Pipe, pipeBothWays, type TrafficCounters } from "./pipe";
import type { SessionProtection } from "./protection";
import { type SessionRecord, type SessionStatus, withValidText } from "./record";
import type { RecordSink } from "./record-sink";
import { resetSocket } from "./reset-socket";
import type { SessionRegistry } from "./session-registry";
import type { UdpAssociation } from "./udp-association";

export interface SessionTimeouts {
  handshakeMs: number;
  idleMs: number;
  connectMs: number;
}

/** Settings of the BIND and UDP ASSOCIATE commands. */
export interface CommandSettings {
  bind: { enabled: boolean; timeoutMs: number; externalAddress?: string | undefined };
  udp: {
    enabled: boolean;
    publicAddress?: string | undefined;
    portRange?: readonly [number, number] | undefined;
    idleTimeoutMs: number;
    maxDatagramBytes: number;
  };
}

/** Everything a session needs from the relay around it. */
export interface SessionDeps extends SessionProtection {
  policy: PolicyStore;
  credentials: CredentialVerifier;
  /** PAM and directory groups, when the config asks for them. */
  auth: AuthBackends;
  backoff: FailureBackoff;
  resolver: Resolver;
  /** CONNECTs of rules with a route go through it (and its hops' health). */
  routes: RouteDialer;
  metrics: RelayMetrics;
  logger: Logger;
  registry: SessionRegistry;
  timeouts: SessionTimeouts;
  commands: CommandSettings;
  node: { name: string | null; region: string | null };
  /** Where the session's record goes when it ends. */
  records: RecordSink;
  /** Bounds the `rule` label of the ACL decision metric. */
  ruleLabel: BoundedLabel;
  /** The GeoIP lookup for `country:XX` rules; unset: no database loaded. */
  countryOf?: CountryLookup | undefined;
}

/** "address": waiting for pam.address to admit the client before its greeting is read. */
export type SessionState =
  | "address"
  | "greeting"
  | "auth"
  | "gssapi"
  | "gssapi-protection"
  | "request"
  | "busy"
  | "relaying"
  | "closed";
type Protocol = "socks4" | "socks4a" | "socks5";

/** Bytes a client may send before its request is answered (held for the destination). */
const MAX_EARLY_DATA_BYTES = 64 * 1024;
/** How long a refused client gets to read its reply before the socket is destroyed. */
const LINGER_MS = 1_000;

/**
 * One client connection's lifecycle and its record: from accept, through the
 * handshake (handshake.ts) and one command (commands/*), to the record it
 * leaves in the record sink. Every refusal goes through `refuse()`, which
 * counts it and closes. The fields the handshake and commands share are
 * public to the session's files, not to the relay.
 */
export class ClientSession implements TrafficCounters {
  readonly startedAt = Date.now();
  readonly id = sessionId(this.startedAt);
  readonly #started = performance.now();
  bytesUp = 0;
  bytesDown = 0;
  packetsUp = 0;
  packetsDown = 0;
  user: string;
  /** The user's groups from the system (auth.group_source = "nss"), as the policy names them. */
  groups: readonly string[] | undefined = undefined;
  /** Captured at accept: a destroyed socket no longer knows its peer. */
  readonly clientAddress: string;
  readonly clientPort: number;
  protocol: Protocol | null = null;
  command: SessionRecord["command"] = null;
  destinationHost: string | null = null;
  destinationAddress: string | null = null;
  destinationPort: number | null = null;
  decision: Decision | null = null;
  /** The GeoIP lookup, once per address for this session; unset: no database loaded. */
  readonly countryOf: CountryLookup | undefined;
  /** The route taken (`name#chain`, or `name` when no chain was tried); null: direct. */
  route: string | null = null;
  state: SessionState = "greeting";
  /** Handshake bytes not parsed yet (and early data held for the destination). */
  buffer: Buffer | null = null;
  /** The policy the session started under: one snapshot from greeting to record. */
  readonly policy: CompiledPolicy;
  /** The backends in force when the session started, which run the policy's method to its end. */
  readonly auth: AuthBackends;
  /** Set when the transport already authenticated the client (mutual TLS). */
  readonly presetUser: boolean;
  /** The GSS-API security context while a method 0x01 login is under way. */
  gss: GssContext | null = null;
  /** The Kerberos principal a GSS-API login established (the user may be it without its realm). */
  principal: string | null = null;
  /**
   * RFC 1961 encapsulation once a GSS-API login agreed on a protection level
   * above 0: every byte to and from the client goes through it. Null for
   * every other session.
   */
  codec: ClientCodec | null = null;
  upstream: Socket | null = null;
  bindListener: BindListener | null = null;
  udp: UdpAssociation | null = null;

  #pipe: Pipe | null = null;
  #finished = false;
  #closeReason: string | null = null;
  #clientEnded = false;
  /** Held from accept until the request is complete. */
  #pending: PendingTicket | null = null;
  /** A connection-limit slot, held from the request until the session ends. */
  #slot: LimitSlot | null = null;
  /** The user's traffic quotas, metered from the start of relaying until the session ends. */
  #quota: SessionMeter | null = null;
  /** Closes the session when the window of the rule that allowed it ends (close_at_window_end). */
  #windowEnd: NodeJS.Timeout | null = null;
  /**
   * The handshake's listeners, bound once. Methods and bind rather than
   * arrow-function fields: tsx compiles with esbuild's keepNames, which gives
   * every named arrow a defineProperty call as it is created (a few hundred
   * ns each, per session); bind() costs a few ns.
   */
  readonly #on = {
    data: this.#onData.bind(this),
    error: this.#onHandshakeError.bind(this),
    close: this.#onHandshakeClose.bind(this),
    end: this.#onHandshakeEnd.bind(this),
    timeout: this.#onHandshakeTimeout.bind(this),
  };

  constructor(
    readonly client: Socket,
    readonly transport: "tcp" | "tls",
    readonly deps: SessionDeps,
    /** Set when the transport already authenticated the client (mutual TLS). */
    presetUser?: string,
    /** The client a load balancer's PROXY header named, and the bytes read after it. */
    proxied?: { address: string; port: number; early: Buffer | null },
  ) {
    this.clientAddress = proxied ? proxied.address : (client.remoteAddress ?? "");
    this.clientPort = proxied ? proxied.port : (client.remotePort ?? 0);
    this.policy = deps.policy.current;
    this.auth = deps.auth;
    this.countryOf = deps.countryOf ? oncePerAddress(deps.countryOf) : undefined;
    this.presetUser = presetUser !== undefined;
    this.user = presetUser ?? this.policy.anonymousUser;
    if (this.auth.addressPam) this.state = "address";
    deps.registry.add(this);
    this.#pending =
      deps.handshakes?.admit(canonicalIp(this.clientAddress), this.#onPendingDrop.bind(this)) ??
      null;
    // TCP_NODELAY is already set: every listener accepts with noDelay (a second setsockopt here
    // was 3% of the connection-rate profile).
    const on = this.#on;
    client.on("data", on.data);
    client.on("error", on.error);
    client.on("close", on.close);
    client.on("end", on.end);
    client.setTimeout(deps.timeouts.handshakeMs, on.timeout);
    if (proxied?.early) this.#onData(proxied.early);
  }

  // A getter, not a field read: the state changes across awaits, which
  // TypeScript's narrowing does not see.
  get closed(): boolean {
    return this.state === "closed";
  }

  /**
   * Ends the session now (shutdown, revocation, an admin's terminate) with an
   * RST: what the relay already queued for the client is discarded, not
   * trickled out to a slow reader long after the session was closed.
   */
  close(reason: string): void {
    if (this.#pipe) {
      this.#pipe.reset(reason);
      return;
    }
    this.#closeReason ??= reason;
    this.#releaseResources();
    resetSocket(this.client);
    this.#finish("closed", reason);
  }

  #onData(bytes: Buffer): void {
    if (this.closed) return;
    let chunk = bytes;
    if (this.codec !== null) {
      const payload = this.#decode(bytes);
      if (payload === null || payload.length === 0) return;
      chunk = payload;
    }
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    if (this.buffer.length > MAX_EARLY_DATA_BYTES) {
      // Data sent ahead of the reply is held for the destination, up to a bound.
      this.refuse(Reply.GeneralFailure, "protocol_error:too_much_early_data", "protocol_error");
      return;
    }
    advanceHandshake(this);
  }

  /** The client's frames → payload; null (and the session refused) on a bad frame. */
  #decode(bytes: Buffer): Buffer | null {
    try {
      return this.codec!.decode(bytes);
    } catch (error) {
      if (!(error instanceof ClientCodecError)) throw error;
      this.deps.logger.warn(
        { session: this.id, client: this.clientAddress, user: this.user, detail: error.message },
        "GSS-API frame refused; session closed",
      );
      this.refuse(null, error.closeReason, error.closeReason);
      return null;
    }
  }

  /**
   * From now on the client's bytes are RFC 1961 frames: what it already sent
   * past the subnegotiation is decoded now, replies and relayed data are wrapped.
   */
  encapsulate(codec: ClientCodec): void {
    const raw = this.buffer;
    this.buffer = null;
    this.codec = codec;
    if (raw !== null) this.#onData(raw);
  }

  /** The request is complete: take a connection slot and run its command. */
  dispatch(command: "connect" | "bind" | "udp", address: SocksAddress, port: number): void {
    const { commands } = this.deps;
    if (
      (command === "bind" && !commands.bind.enabled) ||
      (command === "udp" && !commands.udp.enabled)
    ) {
      this.refuse(Reply.CommandNotSupported, `command_disabled:${command}`, "command_disabled");
      return;
    }
    if (command === "udp" && this.codec !== null) {
      // RFC 1961 also wraps each datagram; that is not built, and unprotected datagrams
      // under a protected session would be a silent downgrade.
      this.refuse(Reply.CommandNotSupported, "gssapi_udp_unsupported", "gssapi_udp_unsupported");
      return;
    }
    this.#leavePending();
    if (!this.#withinQuota(command)) return;
    if (!this.#takeSlot()) return;
    this.state = "busy";
    this.client.pause();
    const run = command === "connect" ? runConnect : command === "bind" ? runBind : runUdpAssociate;
    run(this, address, port).catch((error: unknown) => this.internalError(error));
  }

  /** Takes a connection-limit slot; false (the request refused) when a cap is full. */
  #takeSlot(): boolean {
    const { limits } = this.deps;
    if (!limits) return true;
    const verdict = limits.acquire(
      this.user,
      canonicalIp(this.clientAddress),
      this.policy.limits.connectionLimits(this.user),
    );
    if (verdict.ok) {
      this.#slot = verdict;
      return true;
    }
    this.refuse(Reply.NotAllowed, verdict.reason, verdict.reason);
    return false;
  }

  /** False (the request refused with 0x02, reason `quota`) when a quota of the user is spent. */
  #withinQuota(command: "connect" | "bind" | "udp"): boolean {
    const guard = this.deps.quota;
    const rules = this.policy.quotas.get(this.user);
    if (!guard || rules === undefined) return true;
    if (command === "udp") {
      // Datagrams are not metered against quotas: refused rather than uncounted.
      this.refuse(Reply.NotAllowed, "quota_udp_not_metered", "quota");
      return false;
    }
    const spent = guard.spent(rules);
    if (spent !== null) {
      this.deps.logger.debug({ session: this.id, user: this.user, quota: spent }, "quota spent");
      this.refuse(Reply.NotAllowed, "quota", "quota");
      return false;
    }
    return true;
  }

  #leavePending(): void {
    this.#pending?.done();
    this.#pending = null;
  }

  /** An IPv4-mapped IPv6 address as plain IPv4. */
  canonical(address: string): string {
    return canonicalIp(address);
  }

  /** The relay address this client reached: where BIND and UDP listen. */
  localAddress(): string {
    return canonicalIp(this.client.localAddress ?? "127.0.0.1");
  }

  // ---- replies and relaying ------------------------------------------------

  /** Sends a handshake message or reply; wrapped into frames once the session is encapsulated. */
  write(bytes: Buffer): void {
    if (this.client.destroyed) return;
    if (this.codec === null) {
      this.client.write(bytes);
      return;
    }
    try {
      this.client.write(this.codec.encode(bytes));
    } catch (error) {
      if (!(error instanceof ClientCodecError)) throw error;
      this.deps.logger.warn(
        { session: this.id, client: this.clientAddress, user: this.user, detail: error.message },
        "GSS-API reply could not be wrapped; session closed",
      );
      this.#closeReason ??= error.closeReason;
      this.client.destroy();
    }
  }

  writeSuccess(address: string, port: number): void {
    if (this.protocol === "socks5") {
      this.write(encodeReply({ reply: Reply.Succeeded, address: addressFromHost(address), port }));
    } else {
      this.write(
        encodeSocks4Reply({
          reply: Socks4Reply.Granted,
          port,
          host: isIpv6Address(address) ? "0.0.0.0" : address,
        }),
      );
    }
  }

  /** Back to parsing after an async step (authentication). */
  resume(next: SessionState): void {
    this.state = next;
    this.client.resume();
    advanceHandshake(this);
  }

  stopHandshakeTimer(): void {
    this.client.removeListener("timeout", this.#on.timeout);
    this.client.setTimeout(0);
  }

  /** Leaves the handshake: its listeners go, the session counts as active. */
  enterRelaying(): void {
    const { client, deps } = this;
    const on = this.#on;
    client.removeListener("data", on.data);
    client.removeListener("error", on.error);
    client.removeListener("close", on.close);
    client.removeListener("end", on.end);
    this.stopHandshakeTimer();
    this.state = "relaying";
    deps.metrics.handshakeDuration.observe(
      { version: this.protocol ?? "unknown" },
      (performance.now() - this.#started) / 1000,
    );
    deps.metrics.sessionsActive.inc({ command: this.command ?? "connect" });
  }

  /** Relays between the client and `upstream` (early data first) until either side ends. */
  startRelay(upstream: Socket): void {
    const { client, deps } = this;
    this.enterRelaying();
    const early = this.buffer;
    this.buffer = null;
    const rules = this.policy.quotas.get(this.user);
    if (deps.quota && rules !== undefined) {
      this.#quota = deps.quota.attach(rules, () => this.#pipe?.destroy("quota"));
      if (early) this.#quota.charge(true, early.length);
    }
    if (early) {
      this.bytesUp += early.length;
      this.packetsUp += 1;
      upstream.write(early);
    }
    this.#pipe = pipeBothWays(client, upstream, this, {
      idleTimeoutMs: deps.timeouts.idleMs,
      clientEnded: this.#clientEnded,
      shaping: deps.qos?.attach(this.user),
      quota: this.#quota ?? undefined,
      clientCodec: this.codec ?? undefined,
      onClose: this.#onRelayClosed.bind(this),
    });
    const end = this.decision ? this.policy.acl.windowEnd(this.decision, Date.now()) : null;
    if (end !== null) {
      this.#windowEnd = setTimeout(() => this.close("schedule"), Math.max(0, end - Date.now()));
    }
  }

  #onRelayClosed(reason: string): void {
    this.#finish("closed", reason);
  }

  // ---- endings -------------------------------------------------------------

  /**
   * The one way a session refuses: counts it in `rejectedTotal` under
   * `counted` (null: counted elsewhere or not a rejection), answers, closes.
   * `answer` is a SOCKS5 reply code (sent in the client's protocol; SOCKS4
   * has only "rejected"), exact bytes (an RFC 1929 or method-selection
   * failure), or null for no answer.
   */
  refuse(
    answer: number | Buffer | null,
    reason: string,
    counted: string | null,
    status: SessionStatus = "rejected",
  ): void {
    if (counted !== null) this.deps.metrics.rejectedTotal.inc({ reason: counted });
    if (typeof answer === "number") {
      this.write(
        this.protocol === "socks5"
          ? failureReply(answer)
          : encodeSocks4Reply({ reply: Socks4Reply.Rejected, port: 0, host: "0.0.0.0" }),
      );
    } else if (answer !== null) {
      this.write(answer);
    }
    this.#linger(status, reason);
  }

  /** Refuses a destination the ACL or the egress guard turned away. */
  refuseDestination(refusal: "acl" | "acl_unresolved" | "egress_guard"): void {
    if (refusal === "acl") this.refuse(Reply.NotAllowed, "acl_blocked", "acl");
    else if (refusal === "acl_unresolved") this.refuse(Reply.NotAllowed, "acl_unresolved", "acl");
    else this.refuse(Reply.NotAllowed, "egress_guard", "egress_guard");
  }

  /** Ends our side after the reply is flushed; destroys if the client does not close. */
  #linger(status: SessionStatus, reason: string): void {
    this.state = "closed";
    this.buffer = null;
    this.client.end();
    this.client.resume();
    setTimeout(() => this.client.destroy(), LINGER_MS).unref();
    this.#finish(status, reason);
  }

  internalError(error: unknown): void {
    this.deps.logger.error({ err: error, session: this.id }, "session failed unexpectedly");
    this.refuse(Reply.GeneralFailure, "internal_error", null, "failed");
  }

  #onHandshakeError(error: NodeJS.ErrnoException): void {
    this.client.destroy();
    this.#finish(this.command ? "failed" : "rejected", `client_error:${error.code ?? "EUNKNOWN"}`);
  }

  #releaseResources(): void {
    // Native memory: a context must not outlive its session.
    this.gss?.delete();
    this.gss = null;
    this.upstream?.destroy();
    this.bindListener?.close();
    this.udp?.close();
  }

  #onHandshakeClose(): void {
    this.#releaseResources();
    this.#finish(
      this.command ? "failed" : "rejected",
      this.#closeReason ?? "client_closed_during_handshake",
    );
  }

  // The server socket is half-open capable (for relaying); a client that
  // hangs up before its session starts must not leave it open.
  #onHandshakeEnd(): void {
    this.#clientEnded = true;
    // Waiting for more handshake bytes that can no longer come: give up.
    // Busy (resolving, connecting): the request is complete, so carry on
    // and relay the FIN once the session starts. Closed: our end() is
    // already under way.
    if (
      this.state === "greeting" ||
      this.state === "auth" ||
      this.state === "gssapi" ||
      this.state === "gssapi-protection" ||
      this.state === "request"
    ) {
      this.client.destroy();
    }
  }

  /** The pending-handshake table dropped this connection: too old, or room for a newer one. */
  #onPendingDrop(why: PendingDrop): void {
    this.#pending = null;
    if (why === "timeout") return this.#onHandshakeTimeout();
    this.deps.metrics.rejectedTotal.inc({ reason: "handshake_evicted" });
    this.client.destroy();
    this.#finish("rejected", "handshake_evicted");
  }

  #onHandshakeTimeout(): void {
    this.deps.metrics.rejectedTotal.inc({ reason: "handshake_timeout" });
    this.client.destroy();
    this.#finish("rejected", "handshake_timeout");
  }

  #finish(status: SessionStatus, reason: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const wasRelaying = this.state === "relaying";
    this.state = "closed";
    this.#releaseResources();
    this.#leavePending();
    this.#slot?.release();
    this.#slot = null;
    this.#quota?.release();
    this.#quota = null;
    if (this.#windowEnd) clearTimeout(this.#windowEnd);
    const { deps } = this;
    if (wasRelaying) deps.metrics.sessionsActive.dec({ command: this.command ?? "connect" });
    deps.registry.delete(this);
    const endedAt = Date.now();
    const record: SessionRecord = withValidText({
      id: this.id,
      node: deps.node.name,
      region: deps.node.region,
      user: this.user,
      clientAddress: this.clientAddress,
      clientPort: this.clientPort,
      protocol: this.protocol,
      transport: this.transport,
      command: this.command,
      destinationHost: this.destinationHost,
      destinationAddress: this.destinationAddress,
      destinationPort: this.destinationPort,
      startedAt: new Date(this.startedAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationMs: endedAt - this.startedAt,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      packetsUp: this.packetsUp,
      packetsDown: this.packetsDown,
      status,
      decision: this.decision?.action ?? null,
      ruleId: this.decision?.ruleId ?? null,
      closeReason: reason,
      ...this.#countries(),
      ...(this.route !== null ? { route: this.route } : {}),
    });
    deps.metrics.sessionsTotal.inc({ command: this.command ?? "none", status });
    deps.metrics.sessionDuration.observe(
      { command: this.command ?? "none" },
      record.durationMs / 1000,
    );
    deps.records.add(record);
  }

  /** The record's countries: only those the database knows (absent, not null, otherwise). */
  #countries(): Pick<SessionRecord, "destinationCountry" | "clientCountry"> {
    const countryOf = this.countryOf;
    if (!countryOf) return {};
    const destination =
      this.destinationAddress === null ? null : countryOf(this.destinationAddress);
    const client = this.clientAddress === "" ? null : countryOf(this.clientAddress);
    return {
      ...(destination !== null ? { destinationCountry: destination } : {}),
      ...(client !== null ? { clientCountry: client } : {}),
    };
  }
}

/**
 * A lookup that asks the database once per address: the decision (destination and `sources`
 * rules) and the record share one answer, and a name resolving to several addresses still
 * costs one lookup each.
 */
function oncePerAddress(lookup: CountryLookup): CountryLookup {
  const known = new Map<string, string | null>();
  return (address) => {
    let code = known.get(address);
    if (code === undefined) {
      code = lookup(address);
      known.set(address, code);
    }
    return code;
  };
}

/** IPv4-mapped IPv6 as plain IPv4; anything else unchanged. */
function canonicalIp(address: string): string {
  const normalized = normalizeDestination(address);
  return normalized.ok && normalized.destination.kind === "ip"
    ? normalized.destination.address
    : address;
}
