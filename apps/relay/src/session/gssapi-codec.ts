import { decodeGssapiMessage, GSSAPI_VERSION, GssapiMessageType } from "@edgesocks/socks";
import type { GssContext } from "../auth/gssapi/gss-acceptor";
import { type ClientCodec, ClientCodecError } from "./client-codec";

/** RFC 1961 §5: VER MTYP LEN(2), then the token. */
const HEADER_BYTES = 4;
const MAX_TOKEN_BYTES = 0xffff;

export interface GssapiCodecOptions {
  /** The session's established context; the session deletes it when it ends. */
  context: GssContext;
  /** The level the subnegotiation agreed on. */
  level: 1 | 2 | 3;
  /** A frame that ends its session, by close reason (a metric). */
  onBadFrame: (reason: string) => void;
}

/**
 * RFC 1961 §5 encapsulation of one session's client side: every message is
 * `01 03 LEN token` with a gss_wrap token. Level 1 wraps with conf_req =
 * false, levels 2 and 3 with true (at level 3, "selective", the relay's
 * local choice is to encrypt everything it sends; the client may protect
 * each message as it likes). From the client, a frame must unwrap (the
 * library checks the integrity and the sequence: a flipped byte, a replayed
 * or a reordered frame fails), and at level 2 it must have been encrypted.
 * A frame is at most 4 + 65535 bytes by its 16-bit length, so at most one
 * incomplete frame is ever held.
 */
export class GssapiClientCodec implements ClientCodec {
  readonly #context: GssContext;
  readonly #level: 1 | 2 | 3;
  readonly #onBadFrame: (reason: string) => void;
  readonly #confidential: boolean;
  /** The largest payload whose token fits one frame. */
  readonly #maxPayloadBytes: number;
  #pending: Buffer | null = null;

  constructor(options: GssapiCodecOptions) {
    this.#context = options.context;
    this.#level = options.level;
    this.#onBadFrame = options.onBadFrame;
    this.#confidential = options.level !== 1;
    this.#maxPayloadBytes = payloadLimit(options.context, this.#confidential);
  }

  get pendingBytes(): number {
    return this.#pending?.length ?? 0;
  }

  /** The largest payload one frame carries (gss_wrap_size_limit for a 65535-byte token). */
  get maxPayloadBytes(): number {
    return this.#maxPayloadBytes;
  }

  decode(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let buf = chunk;
    let offset = 0;
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      if (pending.length >= HEADER_BYTES && pending[1] === GssapiMessageType.Encapsulated) {
        // Complete the held frame with only the bytes it lacks; the rest is read where it lies.
        const total = HEADER_BYTES + pending.readUInt16BE(2);
        const need = total - pending.length;
        if (chunk.length < need) {
          this.#pending = Buffer.concat([pending, chunk]);
          return EMPTY;
        }
        this.#frames(Buffer.concat([pending, chunk.subarray(0, need)], total), 0, out);
        offset = need;
      } else buf = Buffer.concat([pending, chunk]);
    }
    const end = this.#frames(buf, offset, out);
    if (end < buf.length) {
      // The rest of a frame: copied when it sits in the caller's (possibly reused) buffer.
      this.#pending = buf === chunk ? Buffer.copyBytesFrom(buf, end) : buf.subarray(end);
    }
    if (out.length === 0) return EMPTY;
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** Unwraps the complete frames of `buf` from `offset` into `out`; returns where the rest starts. */
  #frames(buf: Buffer, start: number, out: Buffer[]): number {
    let offset = start;
    while (offset < buf.length) {
      const decoded = decodeGssapiMessage(buf, offset);
      if (decoded.status === "incomplete") break;
      if (decoded.status === "invalid") throw this.#bad("gssapi_bad_frame", decoded.error.message);
      const { type, token } = decoded.value;
      if (type === GssapiMessageType.Abort)
        throw this.#bad("gssapi_client_abort", "the client sent an RFC 1961 abort");
      if (type !== GssapiMessageType.Encapsulated) {
        throw this.#bad(
          "gssapi_bad_frame",
          `RFC 1961 message type 0x${type.toString(16).padStart(2, "0")} where an encapsulated message (0x03) belongs`,
        );
      }
      let message: Buffer;
      try {
        const unwrapped = this.#context.unwrap(token);
        if (this.#level === 2 && !unwrapped.confidential) {
          throw this.#bad(
            "gssapi_unprotected_frame",
            "a frame without confidentiality at protection level 2",
          );
        }
        message = unwrapped.message;
      } catch (cause) {
        if (cause instanceof ClientCodecError) throw cause;
        throw this.#bad("gssapi_unwrap_failed", (cause as Error).message, cause);
      }
      offset += decoded.length;
      if (message.length > 0) out.push(message);
    }
    return offset;
  }

  encode(payload: Buffer): Buffer {
    const max = this.#maxPayloadBytes;
    if (payload.length <= max)
      return payload.length === 0 ? EMPTY : this.#frame([this.#wrap(payload)]);
    const tokens: Buffer[] = [];
    for (let at = 0; at < payload.length; at += max) {
      tokens.push(this.#wrap(payload.subarray(at, Math.min(at + max, payload.length))));
    }
    return this.#frame(tokens);
  }

  #wrap(piece: Buffer): Buffer {
    let token: Buffer;
    try {
      token = this.#context.wrap(piece, this.#confidential);
    } catch (cause) {
      // An expired context (the ticket's end time) lands here: the session ends with it.
      throw this.#bad("gssapi_wrap_failed", (cause as Error).message, cause);
    }
    if (token.length > MAX_TOKEN_BYTES)
      throw this.#bad("gssapi_wrap_failed", `a wrap token of ${token.length} bytes`);
    return token;
  }

  /** One allocation for all the frames of one payload. */
  #frame(tokens: readonly Buffer[]): Buffer {
    let total = 0;
    for (const token of tokens) total += HEADER_BYTES + token.length;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (const token of tokens) {
      out[at] = GSSAPI_VERSION;
      out[at + 1] = GssapiMessageType.Encapsulated;
      out.writeUInt16BE(token.length, at + 2);
      out.set(token, at + HEADER_BYTES);
      at += HEADER_BYTES + token.length;
    }
    return out;
  }

  #bad(reason: string, message: string, cause?: unknown): ClientCodecError {
    this.#onBadFrame(reason);
    return new ClientCodecError(reason, message, { cause });
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * gss_wrap_size_limit for a full frame, less a margin: the limit is the
 * library's estimate, and a token one byte over LEN would end the session.
 */
function payloadLimit(context: GssContext, confidential: boolean): number {
  const margin = 64;
  let limit: number;
  try {
    limit = context.wrapSizeLimit(confidential, MAX_TOKEN_BYTES - margin);
  } catch {
    // No estimate: well under any mechanism's overhead.
    limit = MAX_TOKEN_BYTES - 1024;
  }
  return limit > 0 ? Math.min(limit, MAX_TOKEN_BYTES - margin) : MAX_TOKEN_BYTES - 1024;
}
