import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { type Decision, evaluate } from "@edgesocks/policy";
import {
  AuthMethod,
  addressFromHost,
  type Decoded,
  decodeGreeting,
  decodeRequest,
  decodeSocks4Request,
  decodeUserPassRequest,
  encodeMethodSelection,
  encodeReply,
  encodeSocks4Reply,
  encodeUserPassReply,
  failureReply,
  Reply,
  type Request,
  Socks4Reply,
  type Socks4Request,
  type SocksAddress,
} from "@edgesocks/socks";
import type { Logger } from "@edgesocks/telemetry";
import type { CredentialVerifier } from "../auth/credentials";
import type { FailureBackoff } from "../auth/failure-backoff";
import type { LimitSlot } from "../limits/connection-limits";
import type { PendingDrop, PendingTicket } from "../limits/pending-handshakes";
import type { SessionProtection } from "../limits/protection";
import type { BoundedLabel, RelayMetrics } from "../metrics";
import { BindListener } from "../net/bind-listener";
import {
  type Destination,
  isIpv6Address,
  normalizeDestination,
  normalizeRequestAddress,
} from "../net/destination";
import type { ResolvedAddress, Resolver } from "../net/resolver";
import { connectUpstream } from "../net/upstream";
import type { CompiledPolicy } from "../policy/compiled-policy";
import type { PolicyStore } from "../policy/policy-store";
import { connectionLimits } from "../qos/policy-limits";
import { type Pipe, pipeBothWays, type TrafficCounters } from "./pipe";
import { type SessionRecord, type SessionStatus, withValidText } from "./record";
import { resetSocket } from "./reset-socket";
import type { SessionRegistry } from "./session-registry";
import { UdpAssociation } from "./udp-association";

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
  backoff: FailureBackoff;
  resolver: Resolver;
  metrics: RelayMetrics;
  logger: Logger;
  registry: SessionRegistry;
  timeouts: SessionTimeouts;
  commands: CommandSettings;
  node: { name: string | null; region: string | null };
  onRecord: (record: SessionRecord) => void;
  /** Bounds the `rule` label of the ACL decision metric. */
  ruleLabel: BoundedLabel;
}

type State = "greeting" | "auth" | "request" | "busy" | "relaying" | "closed";
type Protocol = "socks4" | "socks4a" | "socks5";

/** No valid handshake message is longer; more unparsed bytes than this is abuse. */
const MAX_HANDSHAKE_BYTES = 1024;
/** Bytes a client may send before its request is answered (held for the destination). */
const MAX_EARLY_DATA_BYTES = 64 * 1024;
/** How long a refused client gets to read its reply before the socket is destroyed. */
const LINGER_MS = 1_000;

/**
 * One client connection: the SOCKS handshake as a buffered state machine
 * (a greeting split over many reads and a greeting, request and first data
 * pipelined in one read both work), then the command, then the relay.
 */
export class ClientSession implements TrafficCounters {
  readonly id = randomUUID();
  readonly startedAt = Date.now();
  readonly #started = performance.now();
  bytesUp = 0;
  bytesDown = 0;
  packetsUp = 0;
  packetsDown = 0;
  user: string;
  /** Captured at accept: a destroyed socket no longer knows its peer. */
  readonly clientAddress: string;
  readonly clientPort: number;
  protocol: Protocol | null = null;
  command: SessionRecord["command"] = null;
  destinationHost: string | null = null;
  destinationAddress: string | null = null;
  destinationPort: number | null = null;
  decision: Decision | null = null;

  #state: State = "greeting";
  #buffer: Buffer | null = null;
  #policy: CompiledPolicy;
  #pipe: Pipe | null = null;
  #upstream: Socket | null = null;
  #bindListener: BindListener | null = null;
  #udp: UdpAssociation | null = null;
  #finished = false;
  readonly #presetUser: boolean;
  #closeReason: string | null = null;
  #clientEnded = false;
  /** Held from accept until the request is complete. */
  #pending: PendingTicket | null = null;
  /** A connection-limit slot, held from the request until the session ends. */
  #slot: LimitSlot | null = null;
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
    private readonly deps: SessionDeps,
    /** Set when the transport already authenticated the client (mutual TLS). */
    presetUser?: string,
  ) {
    this.clientAddress = client.remoteAddress ?? "";
    this.clientPort = client.remotePort ?? 0;
    this.#policy = deps.policy.current;
    this.#presetUser = presetUser !== undefined;
    this.user = presetUser ?? this.#policy.anonymousUser;
    deps.registry.add(this);
    this.#pending =
      deps.handshakes?.admit(canonicalIp(this.clientAddress), this.#onPendingDrop.bind(this)) ??
      null;
    client.setNoDelay(true);
    const on = this.#on;
    client.on("data", on.data);
    client.on("error", on.error);
    client.on("close", on.close);
    client.on("end", on.end);
    client.setTimeout(deps.timeouts.handshakeMs, on.timeout);
  }

  get state(): State {
    return this.#state;
  }

  // A method, not a field read: the state changes across awaits, which
  // TypeScript's narrowing does not see.
  get #isClosed(): boolean {
    return this.#state === "closed";
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

  // ---- handshake ---------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.#isClosed) return;
    this.#buffer = this.#buffer ? Buffer.concat([this.#buffer, chunk]) : chunk;
    if (this.#buffer.length > MAX_EARLY_DATA_BYTES) {
      // Data sent ahead of the reply is held for the destination, up to a bound.
      this.deps.metrics.rejectedTotal.inc({ reason: "protocol_error" });
      this.#refuse(Reply.GeneralFailure, "protocol_error:too_much_early_data");
      return;
    }
    this.#advance();
  }

  #advance(): void {
    while (this.#buffer && this.#buffer.length > 0) {
      const buffer = this.#buffer;
      switch (this.#state) {
        case "greeting":
          if (buffer[0] === 5) {
            this.protocol = "socks5";
            if (!this.#step(decodeGreeting(buffer), (g) => this.#onGreeting(g.methods))) return;
          } else if (buffer[0] === 4) {
            this.protocol = "socks4";
            if (!this.#step(decodeSocks4Request(buffer), (r) => this.#onSocks4Request(r))) return;
          } else {
            this.deps.metrics.rejectedTotal.inc({ reason: "protocol_error" });
            this.#refuse(null, `protocol_error:SOCKS_E_BAD_VERSION (first byte ${buffer[0]})`);
            return;
          }
          break;
        case "auth":
          if (
            !this.#step(decodeUserPassRequest(buffer), (u) =>
              this.#onUserPass(u.username, u.password),
            )
          )
            return;
          break;
        case "request":
          if (!this.#step(decodeRequest(buffer), (r) => this.#onRequest(r))) return;
          break;
        default:
          // busy: an async step owns the buffer until it resumes parsing
          return;
      }
    }
  }

  /** Runs one decoder result; false when parsing must stop for now. */
  #step<T>(decoded: Decoded<T>, onValue: (value: T) => void): boolean {
    if (decoded.status === "incomplete") {
      if (this.#buffer && this.#buffer.length > MAX_HANDSHAKE_BYTES) {
        this.deps.metrics.rejectedTotal.inc({ reason: "protocol_error" });
        this.#refuse(
          this.#state === "greeting" ? null : Reply.GeneralFailure,
          "protocol_error:handshake_too_long",
        );
      }
      return false;
    }
    if (decoded.status === "invalid") {
      this.deps.metrics.rejectedTotal.inc({ reason: "protocol_error" });
      if (this.#state === "auth") {
        // RFC 1929: any status but 0 is a failure, then the server closes.
        this.#write(encodeUserPassReply(false));
        this.#linger("rejected", `protocol_error:${decoded.error.code}`);
        return false;
      }
      // A malformed SOCKS5 greeting gets no reply (there is no field for one),
      // except one offering no methods: RFC 1928 answers that with 0xFF.
      // A malformed request gets the code the codec chose, e.g. 0x07 or 0x08.
      const socks5Greeting = this.#state === "greeting" && this.protocol === "socks5";
      if (socks5Greeting && decoded.error.code === "SOCKS_E_NO_METHODS") {
        this.#write(encodeMethodSelection(AuthMethod.NoAcceptable));
        this.#linger("rejected", `protocol_error:${decoded.error.code}`);
        return false;
      }
      this.#refuse(
        socks5Greeting ? null : (decoded.error.reply ?? Reply.GeneralFailure),
        `protocol_error:${decoded.error.code}`,
      );
      return false;
    }
    const rest = this.#buffer!.length - decoded.length;
    this.#buffer = rest > 0 ? this.#buffer!.subarray(decoded.length) : null;
    onValue(decoded.value);
    return this.#state !== "busy" && this.#state !== "closed" && this.#state !== "relaying";
  }

  #onGreeting(offered: readonly number[]): void {
    // A client that mutual TLS already identified needs no second credential.
    const methods = this.#presetUser
      ? [AuthMethod.None, ...this.#policy.methods]
      : this.#policy.methods;
    const method = methods.find((m) => offered.includes(m));
    if (method === undefined) {
      this.deps.metrics.rejectedTotal.inc({ reason: "no_acceptable_method" });
      this.#write(encodeMethodSelection(AuthMethod.NoAcceptable));
      this.#linger("rejected", "no_acceptable_auth_method");
      return;
    }
    this.#write(encodeMethodSelection(method));
    this.#state = method === AuthMethod.UserPass ? "auth" : "request";
  }

  #onUserPass(username: string, password: string): void {
    this.#state = "busy";
    this.client.pause();
    this.#verify(username, password).catch((error: unknown) => this.#internalError(error));
  }

  async #verify(username: string, password: string): Promise<void> {
    const { credentials, backoff, metrics } = this.deps;
    const keys = [`ip:${this.clientAddress}`, `user:${username}`];
    // An address or username that keeps failing waits before its password is
    // even checked, right or wrong: guessing right cannot skip the wait, and
    // argon2 runs at the back-off's pace, not at the pace of a flood.
    const holdMs = backoff.delayBefore(...keys);
    if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs).unref());
    if (this.#isClosed) return;
    const ok = await credentials.verify(this.#policy.users.get(username), password);
    if (this.#isClosed) return;
    this.user = username;
    if (ok) {
      backoff.succeed(keys[0]!);
      this.#write(encodeUserPassReply(true));
      this.#resume("request");
      return;
    }
    metrics.authFailures.inc({ method: "userpass" });
    metrics.rejectedTotal.inc({ reason: "auth_failed" });
    backoff.fail(...keys);
    this.#write(encodeUserPassReply(false));
    this.#linger("rejected", "auth_failed");
  }

  #onSocks4Request(request: Socks4Request): void {
    this.protocol = request.address.type === "domain" ? "socks4a" : "socks4";
    this.command = request.command;
    this.destinationHost = request.address.host;
    this.destinationPort = request.port;
    if (this.#policy.requiresPassword && !this.#presetUser) {
      // SOCKS4 has no password exchange; a relay that requires one never lets it through.
      this.deps.metrics.rejectedTotal.inc({ reason: "auth_required" });
      this.#refuse(Reply.NotAllowed, "auth_required");
      return;
    }
    this.#dispatch(request.command, request.address, request.port);
  }

  #onRequest(request: Request): void {
    const command = request.command === "udp-associate" ? "udp" : request.command;
    this.command = command;
    this.destinationHost = request.address.host;
    this.destinationPort = request.port;
    this.#dispatch(command, request.address, request.port);
  }

  #dispatch(command: "connect" | "bind" | "udp", address: SocksAddress, port: number): void {
    const { commands, metrics } = this.deps;
    if (
      (command === "bind" && !commands.bind.enabled) ||
      (command === "udp" && !commands.udp.enabled)
    ) {
      metrics.rejectedTotal.inc({ reason: "command_disabled" });
      this.#refuse(Reply.CommandNotSupported, `command_disabled:${command}`);
      return;
    }
    this.#leavePending();
    if (!this.#takeSlot()) return;
    this.#state = "busy";
    this.client.pause();
    const run =
      command === "connect" ? this.#connect : command === "bind" ? this.#bind : this.#associate;
    run.call(this, address, port).catch((error: unknown) => this.#internalError(error));
  }

  // ---- CONNECT -----------------------------------------------------------

  async #connect(requested: SocksAddress, port: number): Promise<void> {
    const { metrics, resolver, timeouts } = this.deps;
    const normalized = normalizeRequestAddress(requested);
    if (!normalized.ok) {
      metrics.rejectedTotal.inc({ reason: `destination_${normalized.reason}` });
      this.#refuse(Reply.HostUnreachable, `bad_destination:${normalized.reason}`);
      return;
    }
    const destination = normalized.destination;
    let candidates: ResolvedAddress[];
    if (destination.kind === "ip") {
      this.destinationAddress = destination.address;
      const decision = this.#decide(destination, destination.address, port);
      if (decision.action === "block") return this.#blocked();
      if (this.#egressRefuses(destination.address, port)) return this.#egressRefused();
      candidates = [{ address: destination.address, family: destination.family }];
    } else {
      // Decide by name first so a blocked name is never even resolved.
      const byName = this.#evaluate(destination, undefined, port);
      // Only a rule is final before DNS: a default-policy block may still be
      // lifted by an allow rule for the address the name resolves to.
      if (byName.action === "block" && byName.ruleId !== null) {
        this.#settle(byName);
        return this.#blocked();
      }
      const resolved = await resolver.resolve(destination.host);
      if (this.#isClosed) return;
      if (!resolved.ok) {
        metrics.upstreamErrors.inc({ reply: String(Reply.HostUnreachable) });
        this.#refuse(Reply.HostUnreachable, `dns_failed:${resolved.code}`, "failed");
        return;
      }
      // Then by every address it resolved to, so a name cannot smuggle a
      // blocked address past the IP rules.
      candidates = [];
      let guarded = 0;
      let allowed: Decision | undefined;
      let blocked: Decision = byName;
      for (const candidate of resolved.addresses) {
        const mapped = normalizeDestination(candidate.address);
        if (!mapped.ok || mapped.destination.kind !== "ip") continue;
        const decision = this.#evaluate(destination, mapped.destination.address, port);
        if (decision.action === "block") blocked = decision;
        if (decision.action === "allow") {
          if (this.#egressRefuses(mapped.destination.address, port)) {
            guarded += 1;
            continue;
          }
          allowed ??= decision;
          candidates.push({
            address: mapped.destination.address,
            family: mapped.destination.family,
          });
        }
      }
      if (candidates.length === 0) {
        this.#settle(blocked);
        return guarded > 0 ? this.#egressRefused() : this.#blocked();
      }
      this.#settle(allowed!);
    }

    // A pooled connection (never used before) skips the connect round trip.
    const pooled = this.deps.pool?.take(destination.host, port, candidates);
    const result = pooled
      ? { ok: true as const, ...pooled, connectMs: 0 }
      : await connectUpstream(candidates, { port, timeoutMs: timeouts.connectMs });
    if (this.#isClosed) {
      if (result.ok) result.socket.destroy();
      return;
    }
    if (!result.ok) {
      metrics.upstreamErrors.inc({ reply: String(result.reply) });
      this.#refuse(result.reply, `connect_failed:${result.code}`, "failed");
      return;
    }
    if (!pooled) metrics.upstreamConnectDuration.observe(result.connectMs / 1000);
    this.destinationAddress = result.address.address;
    this.#upstream = result.socket;
    this.#writeSuccess(result.socket.localAddress ?? "0.0.0.0", result.socket.localPort ?? 0);
    this.#startRelay(result.socket);
  }

  /** Evaluates without recording: a request by name takes several evaluations but one decision. */
  #evaluate(
    destination: Destination,
    address: string | undefined,
    port: number,
    protocol: "tcp" | "udp" = "tcp",
  ): Decision {
    return evaluate(this.#policy.acl, {
      user: this.user,
      host: destination.host,
      ...(address !== undefined ? { address } : {}),
      port,
      protocol,
    });
  }

  /** The decision this request stands on: kept for the session record and counted once. */
  #settle(decision: Decision): Decision {
    this.decision = decision;
    this.deps.metrics.aclDecisions.inc({
      action: decision.action,
      rule: this.deps.ruleLabel.of(decision.ruleId ?? "default"),
    });
    return decision;
  }

  #decide(
    destination: Destination,
    address: string | undefined,
    port: number,
    protocol: "tcp" | "udp" = "tcp",
  ): Decision {
    return this.#settle(this.#evaluate(destination, address, port, protocol));
  }

  #blocked(): void {
    this.deps.metrics.rejectedTotal.inc({ reason: "acl" });
    this.#refuse(Reply.NotAllowed, "acl_blocked");
  }

  /** The egress guard refuses some destinations whatever the ACL allowed. */
  #egressRefuses(address: string, port: number): boolean {
    return (this.deps.egress?.check(address, port) ?? null) !== null;
  }

  #egressRefused(): void {
    this.deps.metrics.rejectedTotal.inc({ reason: "egress_guard" });
    this.#refuse(Reply.NotAllowed, "egress_guard");
  }

  /** Takes a connection-limit slot; false (the request refused) when a cap is full. */
  #takeSlot(): boolean {
    const { limits, metrics } = this.deps;
    if (!limits) return true;
    const verdict = limits.acquire(
      this.user,
      canonicalIp(this.clientAddress),
      connectionLimits(this.#policy.snapshot, this.user),
    );
    if (verdict.ok) {
      this.#slot = verdict;
      return true;
    }
    metrics.rejectedTotal.inc({ reason: verdict.reason });
    this.#refuse(Reply.NotAllowed, verdict.reason);
    return false;
  }

  #leavePending(): void {
    this.#pending?.done();
    this.#pending = null;
  }

  // ---- BIND --------------------------------------------------------------

  /**
   * Listens for the one peer the client named (e.g. an FTP server's data
   * connection): first reply with the listening address, second reply with
   * the peer's address once it connects, then relay.
   */
  async #bind(requested: SocksAddress, port: number): Promise<void> {
    const { metrics, resolver, commands } = this.deps;
    // Which peers may connect: the named address, every address of a named
    // host, or anyone the ACL allows when the client named 0.0.0.0.
    let expected: Set<string> | null = null;
    const normalized = normalizeRequestAddress(requested);
    if (normalized.ok) {
      const destination = normalized.destination;
      if (destination.kind === "ip") {
        expected = new Set([destination.address]);
        this.destinationAddress = destination.address;
        if (this.#decide(destination, destination.address, port).action === "block")
          return this.#blocked();
        if (this.deps.egress?.blocksPeer(destination.address)) return this.#egressRefused();
      } else {
        const byName = this.#evaluate(destination, undefined, port);
        if (byName.action === "block" && byName.ruleId !== null) {
          this.#settle(byName);
          return this.#blocked();
        }
        const resolved = await resolver.resolve(destination.host);
        if (this.#isClosed) return;
        if (!resolved.ok)
          return this.#refuse(Reply.HostUnreachable, `dns_failed:${resolved.code}`, "failed");
        expected = new Set();
        let allowed: Decision | undefined;
        let blocked: Decision = byName;
        for (const candidate of resolved.addresses) {
          const mapped = normalizeDestination(candidate.address);
          if (mapped.ok && mapped.destination.kind === "ip") {
            const decision = this.#evaluate(destination, mapped.destination.address, port);
            if (decision.action === "block") blocked = decision;
            else if (!this.deps.egress?.blocksPeer(mapped.destination.address)) {
              allowed ??= decision;
              expected.add(mapped.destination.address);
            }
          }
        }
        this.#settle(allowed ?? blocked);
        if (expected.size === 0) return this.#blocked();
      }
    } else if (normalized.reason !== "unspecified") {
      return this.#refuse(Reply.HostUnreachable, `bad_destination:${normalized.reason}`);
    }

    const listenOn = commands.bind.externalAddress ?? localAddressOf(this.client);
    const listener = await BindListener.open(listenOn);
    if (this.#isClosed) return listener.close();
    this.#bindListener = listener;
    this.#stopHandshakeTimer();
    const bound = listener.address();
    this.#writeSuccess(bound.address, bound.port);
    this.client.resume(); // so a client hanging up is noticed while we wait

    const outcome = await listener.waitForPeer({
      timeoutMs: commands.bind.timeoutMs,
      accept: (peer) => {
        const address = canonicalIp(peer.address);
        if (this.deps.egress?.blocksPeer(address)) return false;
        if (expected) return expected.has(address);
        const decision = this.#decide(
          { kind: "ip", host: address, address, family: isIpv6Address(address) ? 6 : 4 },
          address,
          peer.port,
        );
        return decision.action === "allow";
      },
      onRefused: () => metrics.bindRefusedPeers.inc(),
    });
    this.#bindListener = null;
    if (this.#isClosed) {
      if (outcome.ok) outcome.socket.destroy();
      return;
    }
    if (!outcome.ok) {
      metrics.rejectedTotal.inc({ reason: "bind_timeout" });
      return this.#refuse(Reply.TtlExpired, "bind_timeout", "failed");
    }
    const peer = outcome.socket;
    this.#upstream = peer;
    this.destinationAddress = canonicalIp(peer.remoteAddress ?? "");
    this.client.pause();
    this.#writeSuccess(this.destinationAddress, peer.remotePort ?? 0);
    this.#startRelay(peer);
    peer.resume();
  }

  // ---- UDP ASSOCIATE -----------------------------------------------------

  /**
   * Opens the association's UDP socket on the address the client reached and
   * keeps it for as long as this TCP connection lives.
   */
  async #associate(requested: SocksAddress, port: number): Promise<void> {
    const { commands, metrics, resolver } = this.deps;
    // The client may name the address/port it will send from; 0.0.0.0 or
    // port 0 means "not known yet": its TCP address, any port.
    const named = normalizeRequestAddress(requested);
    const clientAddress =
      named.ok && named.destination.kind === "ip"
        ? named.destination.address
        : canonicalIp(this.clientAddress);
    const localAddress = localAddressOf(this.client);
    const association = await UdpAssociation.open({
      bindAddress: localAddress,
      portRange: commands.udp.portRange,
      clientAddress,
      clientPort: port,
      idleTimeoutMs: commands.udp.idleTimeoutMs,
      maxDatagramBytes: commands.udp.maxDatagramBytes,
      decide: (name, address, destinationPort) => {
        const destination: Destination =
          name === address
            ? { kind: "ip", host: address, address, family: isIpv6Address(address) ? 6 : 4 }
            : { kind: "domain", host: name };
        this.destinationHost = name;
        this.destinationAddress = address;
        this.destinationPort = destinationPort;
        return this.#decide(destination, address, destinationPort, "udp");
      },
      resolver,
      metrics,
      counters: this,
      egressRefuses: (address, destinationPort) => this.#egressRefuses(address, destinationPort),
      onEnd: (reason) => this.close(reason),
    }).catch((error: NodeJS.ErrnoException) => {
      this.#refuse(Reply.GeneralFailure, `udp_bind_failed:${error.code ?? "EUNKNOWN"}`, "failed");
      return null;
    });
    if (!association) return;
    if (this.#isClosed) return association.close();
    this.#udp = association;
    this.destinationHost = null;
    this.destinationPort = null;
    this.#stopHandshakeTimer();
    const bound = association.address();
    this.#writeSuccess(commands.udp.publicAddress ?? bound.address, bound.port);
    this.#enterRelaying();
    // The TCP connection only carries the association's life: anything the
    // client sends on it is read and discarded, its close ends the association.
    const client = this.client;
    client.on("data", () => {});
    client.on("end", () => this.close("client_closed"));
    client.on("error", (error: NodeJS.ErrnoException) =>
      this.close(`client_error:${error.code ?? "EUNKNOWN"}`),
    );
    client.on("close", () => this.close("client_closed"));
    client.resume();
  }

  // ---- relaying ----------------------------------------------------------

  #writeSuccess(address: string, port: number): void {
    if (this.protocol === "socks5") {
      this.#write(encodeReply({ reply: Reply.Succeeded, address: addressFromHost(address), port }));
    } else {
      this.#write(
        encodeSocks4Reply({
          reply: Socks4Reply.Granted,
          port,
          host: isIpv6Address(address) ? "0.0.0.0" : address,
        }),
      );
    }
  }

  #stopHandshakeTimer(): void {
    this.client.removeListener("timeout", this.#on.timeout);
    this.client.setTimeout(0);
  }

  /** Leaves the handshake: its listeners go, the session counts as active. */
  #enterRelaying(): void {
    const { client, deps } = this;
    const on = this.#on;
    client.removeListener("data", on.data);
    client.removeListener("error", on.error);
    client.removeListener("close", on.close);
    client.removeListener("end", on.end);
    this.#stopHandshakeTimer();
    this.#state = "relaying";
    deps.metrics.handshakeDuration.observe(
      { version: this.protocol ?? "unknown" },
      (performance.now() - this.#started) / 1000,
    );
    deps.metrics.sessionsActive.inc({ command: this.command ?? "connect" });
  }

  #startRelay(upstream: Socket): void {
    const { client, deps } = this;
    this.#enterRelaying();
    const early = this.#buffer;
    this.#buffer = null;
    if (early) {
      this.bytesUp += early.length;
      this.packetsUp += 1;
      upstream.write(early);
    }
    this.#pipe = pipeBothWays(client, upstream, this, {
      idleTimeoutMs: deps.timeouts.idleMs,
      clientEnded: this.#clientEnded,
      shaping: deps.qos?.attach(this.user),
      onClose: this.#onRelayClosed.bind(this),
    });
  }

  #onRelayClosed(reason: string): void {
    this.#finish("closed", reason);
  }

  // ---- endings -----------------------------------------------------------

  #resume(next: State): void {
    this.#state = next;
    this.client.resume();
    this.#advance();
  }

  #write(bytes: Buffer): void {
    if (!this.client.destroyed) this.client.write(bytes);
  }

  /**
   * Sends the failure reply in the client's protocol (`reply` is the SOCKS5
   * code; SOCKS4 has only "rejected"; null sends nothing), then closes.
   */
  #refuse(reply: number | null, reason: string, status: SessionStatus = "rejected"): void {
    if (reply !== null) {
      this.#write(
        this.protocol === "socks5"
          ? failureReply(reply)
          : encodeSocks4Reply({ reply: Socks4Reply.Rejected, port: 0, host: "0.0.0.0" }),
      );
    }
    this.#linger(status, reason);
  }

  /** Ends our side after the reply is flushed; destroys if the client does not close. */
  #linger(status: SessionStatus, reason: string): void {
    this.#state = "closed";
    this.#buffer = null;
    this.client.end();
    this.client.resume();
    setTimeout(() => this.client.destroy(), LINGER_MS).unref();
    this.#finish(status, reason);
  }

  #internalError(error: unknown): void {
    this.deps.logger.error({ err: error, session: this.id }, "session failed unexpectedly");
    this.#refuse(Reply.GeneralFailure, "internal_error", "failed");
  }

  #onHandshakeError(error: NodeJS.ErrnoException): void {
    this.client.destroy();
    this.#finish(this.command ? "failed" : "rejected", `client_error:${error.code ?? "EUNKNOWN"}`);
  }

  #releaseResources(): void {
    this.#upstream?.destroy();
    this.#bindListener?.close();
    this.#udp?.close();
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
    if (this.#state === "greeting" || this.#state === "auth" || this.#state === "request") {
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
    const wasRelaying = this.#state === "relaying";
    this.#state = "closed";
    this.#releaseResources();
    this.#leavePending();
    this.#slot?.release();
    this.#slot = null;
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
    });
    deps.metrics.sessionsTotal.inc({ command: this.command ?? "none", status });
    deps.metrics.sessionDuration.observe(
      { command: this.command ?? "none" },
      record.durationMs / 1000,
    );
    deps.onRecord(record);
  }
}

/** IPv4-mapped IPv6 as plain IPv4; anything else unchanged. */
function canonicalIp(address: string): string {
  const normalized = normalizeDestination(address);
  return normalized.ok && normalized.destination.kind === "ip"
    ? normalized.destination.address
    : address;
}

/** The relay address this client reached: where BIND and UDP listen. */
function localAddressOf(socket: Socket): string {
  return canonicalIp(socket.localAddress ?? "127.0.0.1");
}
