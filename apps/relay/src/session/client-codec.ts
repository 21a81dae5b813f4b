/**
 * A per-session transform of the bytes on the client's side of a session
 * (RFC 1961 encapsulation). Sessions without one pass bytes as they are; the
 * relay's hot path pays one null check for the option.
 */
export interface ClientCodec {
  /**
   * The client's bytes → the payload they complete; empty while a frame is
   * still incomplete. The result never refers to `chunk` (a reused read
   * buffer may be handed in). Throws ClientCodecError.
   */
  decode(chunk: Buffer): Buffer;
  /** Payload → the bytes the client gets (a fresh buffer). Throws ClientCodecError. */
  encode(payload: Buffer): Buffer;
  /** Bytes of an incomplete frame from the client, held until the rest arrives. */
  readonly pendingBytes: number;
}

/** A frame the codec could not take or make; the session closes with `closeReason`. */
export class ClientCodecError extends Error {
  readonly code = "RELAY_E_CLIENT_CODEC";
  constructor(
    /** The session's close reason, e.g. "gssapi_unwrap_failed". */
    readonly closeReason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ClientCodecError";
  }
}
