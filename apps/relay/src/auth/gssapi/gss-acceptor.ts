import { type GssLibrary, loadGssLibrary, takeBuffer } from "./gss-library";

/**
 * A GSS-API acceptor over the system library: credentials from a keytab for
 * one service name, and per client one security context that is stepped with
 * the client's tokens, then names its principal and wraps and unwraps messages.
 */

const GSS_S_COMPLETE = 0;
const GSS_S_CONTINUE_NEEDED = 1;
const GSS_C_GSS_CODE = 1;
const GSS_C_MECH_CODE = 2;
const GSS_C_ACCEPT = 2;
const GSS_C_QOP_DEFAULT = 0;
/** ret_flags bits (RFC 2744 §3.3). */
export const GSS_C_CONF_FLAG = 16;
export const GSS_C_INTEG_FLAG = 32;

/** Calling or routine error bits set: the call failed (supplementary bits are informational). */
const isError = (major: number) => (major & 0xffff0000) !== 0;

/** A failed GSS-API call, with the library's own words for both status codes. */
export class GssError extends Error {
  readonly code = "GSS_E_CALL";
  constructor(
    readonly call: string,
    readonly major: number,
    readonly minor: number,
    text: string,
  ) {
    super(`${call} failed: ${text}`);
    this.name = "GssError";
  }
}

/** gss_display_status for both codes, as one line. */
export function statusText(lib: GssLibrary, major: number, minor: number): string {
  const texts: string[] = [];
  for (const [status, type] of [
    [major, GSS_C_GSS_CODE],
    [minor, GSS_C_MECH_CODE],
  ] as const) {
    if (type === GSS_C_MECH_CODE && status === 0) continue;
    const messageContext = [0];
    // A status can have several messages; bounded in case a library never says it is done.
    for (let i = 0; i < 8; i++) {
      const out = {};
      if (isError(lib.displayStatus([0], status, type, null, messageContext, out))) break;
      const text = takeBuffer(lib, out).toString("utf8").trim();
      if (text) texts.push(text);
      if (messageContext[0] === 0) break;
    }
  }
  return texts.join("; ") || `major 0x${major.toString(16)}, minor ${minor}`;
}

function check(lib: GssLibrary, call: string, major: number, minor: number[]): void {
  if (isError(major))
    throw new GssError(call, major, minor[0] ?? 0, statusText(lib, major, minor[0] ?? 0));
}

export interface AcceptorOptions {
  /** "rcmd", "rcmd/host" or "rcmd/host@REALM". */
  serviceName: string;
  /** Keytab holding the service's keys. */
  keytabPath: string;
  /** @default "libgssapi_krb5.so.2" */
  libraryPath?: string | undefined;
}

/** What one step of context establishment gave. */
export interface ContextStep {
  /** Token for the client; empty when there is none to send. */
  output: Buffer;
  /** The context is established (no more client tokens expected). */
  complete: boolean;
}

export class GssAcceptor {
  #cred: unknown;

  private constructor(
    readonly lib: GssLibrary,
    cred: unknown,
  ) {
    this.#cred = cred;
  }

  /**
   * Acquires acceptor credentials from the keytab (gss_acquire_cred_from with a
   * credential store: no process-wide KRB5_KTNAME, so every worker thread gets
   * the same keys). Throws GssError when the keytab lacks the service.
   */
  static open(options: AcceptorOptions): GssAcceptor {
    const lib = loadGssLibrary(options.libraryPath);
    const minor = [0];
    const hostbased = !options.serviceName.includes("/");
    const out: unknown[] = [null];
    const nameBytes = Buffer.from(options.serviceName);
    check(
      lib,
      "gss_import_name",
      lib.importName(
        minor,
        { length: nameBytes.length, value: nameBytes },
        hostbased ? lib.hostbasedService : lib.krb5Principal,
        out,
      ),
      minor,
    );
    const name = out[0];
    try {
      const cred: unknown[] = [null];
      check(
        lib,
        "gss_acquire_cred_from",
        lib.acquireCredFrom(
          minor,
          name,
          0,
          null,
          GSS_C_ACCEPT,
          { count: 1, elements: [{ key: "keytab", value: options.keytabPath }] },
          cred,
          null,
          null,
        ),
        minor,
      );
      return new GssAcceptor(lib, cred[0]);
    } finally {
      lib.releaseName([0], [name]);
    }
  }

  /** A fresh context for one client. */
  context(): GssContext {
    if (this.#cred === null) throw new Error("GSS acceptor closed");
    return new GssContext(this.lib, this.#cred);
  }

  close(): void {
    if (this.#cred === null) return;
    this.lib.releaseCred([0], [this.#cred]);
    this.#cred = null;
  }
}

/** One client's security context. delete() frees it; a context must not outlive its session. */
export class GssContext {
  #handle: unknown = null;
  #complete = false;
  /** ret_flags of the last accept step. */
  flags = 0;
  /** The client's principal, once complete. */
  sourceName: string | null = null;

  constructor(
    private readonly lib: GssLibrary,
    private readonly cred: unknown,
  ) {}

  get complete(): boolean {
    return this.#complete;
  }

  /** gss_accept_sec_context with the client's token. Throws GssError (the client is refused). */
  step(token: Buffer): ContextStep {
    const { lib } = this;
    const minor = [0];
    const handle = [this.#handle];
    const srcName: unknown[] = [null];
    const output = {};
    const flags = [0];
    const major = lib.acceptSecContext(
      minor,
      handle,
      this.cred,
      { length: token.length, value: token },
      null,
      srcName,
      null,
      output,
      flags,
      null,
      null,
    );
    this.#handle = handle[0] ?? null;
    // The output token is taken even on failure: it may carry a KRB-ERROR for the client.
    const out = takeBuffer(lib, output);
    try {
      check(lib, "gss_accept_sec_context", major, minor);
      this.flags = flags[0] ?? 0;
      if ((major & 0xffff) === GSS_S_CONTINUE_NEEDED) return { output: out, complete: false };
      if (major !== GSS_S_COMPLETE && (major & 0xffff) !== 0) {
        // Supplementary bits only (duplicate, old or gap token): a replayed token is refused.
        throw new GssError(
          "gss_accept_sec_context",
          major,
          minor[0] ?? 0,
          statusText(lib, major, minor[0] ?? 0),
        );
      }
      this.#complete = true;
      this.sourceName = this.#display(srcName[0]);
      return { output: out, complete: true };
    } finally {
      if (srcName[0]) lib.releaseName([0], [srcName[0]]);
    }
  }

  #display(name: unknown): string {
    const { lib } = this;
    const minor = [0];
    const out = {};
    check(lib, "gss_display_name", lib.displayName(minor, name, out, null), minor);
    return takeBuffer(lib, out).toString("utf8");
  }

  /** gss_wrap: with `confidential` the message is encrypted, else integrity-protected. */
  wrap(message: Buffer, confidential: boolean): Buffer {
    const { lib } = this;
    const minor = [0];
    const confState = [0];
    const out = {};
    const major = lib.wrap(
      minor,
      this.#established(),
      confidential ? 1 : 0,
      GSS_C_QOP_DEFAULT,
      { length: message.length, value: message },
      confState,
      out,
    );
    const token = takeBuffer(lib, out);
    check(lib, "gss_wrap", major, minor);
    if (confidential && confState[0] !== 1)
      throw new GssError("gss_wrap", major, 0, "confidentiality was asked for and not applied");
    return token;
  }

  /** gss_unwrap: the message and whether it was encrypted. Throws on a bad or replayed token. */
  unwrap(token: Buffer): { message: Buffer; confidential: boolean } {
    const { lib } = this;
    const minor = [0];
    const confState = [0];
    const out = {};
    const major = lib.unwrap(
      minor,
      this.#established(),
      { length: token.length, value: token },
      out,
      confState,
      [0],
    );
    const message = takeBuffer(lib, out);
    check(lib, "gss_unwrap", major, minor);
    // Sequence problems (duplicate, out of order) are supplementary bits: refused as tampering.
    if ((major & 0xffff) !== 0)
      throw new GssError("gss_unwrap", major, minor[0] ?? 0, statusText(lib, major, minor[0] ?? 0));
    return { message, confidential: confState[0] === 1 };
  }

  /** The largest message whose wrap token fits `tokenBytes`. */
  wrapSizeLimit(confidential: boolean, tokenBytes: number): number {
    const { lib } = this;
    const minor = [0];
    const max = [0];
    check(
      lib,
      "gss_wrap_size_limit",
      lib.wrapSizeLimit(minor, this.#established(), confidential ? 1 : 0, 0, tokenBytes, max),
      minor,
    );
    return max[0] ?? 0;
  }

  #established(): unknown {
    if (!this.#complete || this.#handle === null) throw new Error("GSS context not established");
    return this.#handle;
  }

  delete(): void {
    if (this.#handle === null) return;
    this.lib.deleteSecContext([0], [this.#handle], null);
    this.#handle = null;
    this.#complete = false;
  }
}
