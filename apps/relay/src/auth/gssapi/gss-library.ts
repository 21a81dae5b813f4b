import { createRequire } from "node:module";

type Koffi = typeof import("koffi");
/**
 * koffi is loaded on first use, not at import: its native module costs every thread about
 * 13 MiB of RSS, which a relay without `socks_method = "gssapi"` should not pay.
 */
let koffiModule: Koffi | undefined;
function koffiNow(): Koffi {
  koffiModule ??= createRequire(import.meta.url)("koffi") as Koffi;
  return koffiModule;
}

/**
 * The system's GSS-API (MIT Kerberos, Debian's libgssapi-krb5-2) through koffi,
 * a prebuilt FFI: no compiler at install, and it loads in worker threads. Only
 * the calls an RFC 1961 acceptor needs are declared. Every call is synchronous:
 * accepting a context is local work (keytab decryption, replay cache), and
 * wrap/unwrap are per-chunk crypto, as node:crypto would be on the event loop.
 */

/** Debian's soname; tests and operators may point elsewhere. */
export const DEFAULT_GSSAPI_LIBRARY = "libgssapi_krb5.so.2";

/** A GSS buffer as koffi marshals it: `value` is a native pointer (or a Buffer going in). */
export interface GssBuffer {
  length: number;
  value: unknown;
}

/** The functions of one loaded library (one per thread: koffi types live per isolate). */
export interface GssLibrary {
  readonly path: string;
  /** gss_OID of GSS_C_NT_HOSTBASED_SERVICE ("service" or "service@host"). */
  readonly hostbasedService: unknown;
  /** gss_OID of GSS_KRB5_NT_PRINCIPAL_NAME ("service/host@REALM"). */
  readonly krb5Principal: unknown;
  importName(minor: number[], name: GssBuffer, type: unknown, out: unknown[]): number;
  releaseName(minor: number[], name: unknown[]): number;
  acquireCredFrom(
    minor: number[],
    name: unknown,
    timeReq: number,
    mechs: null,
    usage: number,
    store: { count: number; elements: { key: string; value: string }[] },
    out: unknown[],
    actualMechs: null,
    timeRec: null,
  ): number;
  releaseCred(minor: number[], cred: unknown[]): number;
  acceptSecContext(
    minor: number[],
    context: unknown[],
    cred: unknown,
    input: GssBuffer,
    bindings: null,
    srcName: unknown[],
    mech: null,
    output: Partial<GssBuffer>,
    flags: number[],
    timeRec: null,
    delegated: null,
  ): number;
  deleteSecContext(minor: number[], context: unknown[], output: null): number;
  displayName(minor: number[], name: unknown, out: Partial<GssBuffer>, type: null): number;
  wrap(
    minor: number[],
    context: unknown,
    confReq: number,
    qop: number,
    input: GssBuffer,
    confState: number[],
    output: Partial<GssBuffer>,
  ): number;
  unwrap(
    minor: number[],
    context: unknown,
    input: GssBuffer,
    output: Partial<GssBuffer>,
    confState: number[],
    qop: number[],
  ): number;
  wrapSizeLimit(
    minor: number[],
    context: unknown,
    confReq: number,
    qop: number,
    outputSize: number,
    maxInput: number[],
  ): number;
  releaseBuffer(minor: number[], buffer: GssBuffer): number;
  displayStatus(
    minor: number[],
    status: number,
    type: number,
    mech: null,
    messageContext: number[],
    out: Partial<GssBuffer>,
  ): number;
}

let loaded: GssLibrary | undefined;

/**
 * Loads the library once per thread (koffi's type names are registered per
 * isolate, so a second definition would clash). Throws koffi's error when the
 * library or a symbol is missing.
 */
export function loadGssLibrary(path = DEFAULT_GSSAPI_LIBRARY): GssLibrary {
  if (loaded) {
    if (loaded.path !== path)
      throw new Error(`GSS-API already loaded from ${loaded.path}, not ${path}`);
    return loaded;
  }
  const koffi = koffiNow();
  const lib = koffi.load(path);
  koffi.struct("gss_buffer_desc", { length: "size_t", value: "void *" });
  koffi.struct("gss_key_value_element_desc", { key: "const char *", value: "const char *" });
  koffi.struct("gss_key_value_set_desc", {
    count: "uint32_t",
    elements: "gss_key_value_element_desc *",
  });
  koffi.pointer("gss_name_t", koffi.opaque("gss_name_struct"));
  koffi.pointer("gss_cred_id_t", koffi.opaque("gss_cred_id_struct"));
  koffi.pointer("gss_ctx_id_t", koffi.opaque("gss_ctx_id_struct"));
  const f = (prototype: string) => lib.func(prototype);
  const oid = (name: string) => koffi.decode(lib.symbol(name, "void *"), "void *");
  loaded = {
    path,
    hostbasedService: oid("GSS_C_NT_HOSTBASED_SERVICE"),
    krb5Principal: oid("GSS_KRB5_NT_PRINCIPAL_NAME"),
    importName: f(
      "uint32_t gss_import_name(_Out_ uint32_t *minor, const gss_buffer_desc *name, void *type, _Out_ gss_name_t *out)",
    ),
    releaseName: f("uint32_t gss_release_name(_Out_ uint32_t *minor, _Inout_ gss_name_t *name)"),
    acquireCredFrom: f(
      "uint32_t gss_acquire_cred_from(_Out_ uint32_t *minor, gss_name_t name, uint32_t time_req, void *mechs, int usage, const gss_key_value_set_desc *store, _Out_ gss_cred_id_t *out, void *actual_mechs, void *time_rec)",
    ),
    releaseCred: f("uint32_t gss_release_cred(_Out_ uint32_t *minor, _Inout_ gss_cred_id_t *cred)"),
    acceptSecContext: f(
      "uint32_t gss_accept_sec_context(_Out_ uint32_t *minor, _Inout_ gss_ctx_id_t *context, gss_cred_id_t cred, const gss_buffer_desc *input, void *bindings, _Out_ gss_name_t *src_name, void *mech, _Out_ gss_buffer_desc *output, _Out_ uint32_t *flags, void *time_rec, void *delegated)",
    ),
    deleteSecContext: f(
      "uint32_t gss_delete_sec_context(_Out_ uint32_t *minor, _Inout_ gss_ctx_id_t *context, void *output)",
    ),
    displayName: f(
      "uint32_t gss_display_name(_Out_ uint32_t *minor, gss_name_t name, _Out_ gss_buffer_desc *out, void *type)",
    ),
    wrap: f(
      "uint32_t gss_wrap(_Out_ uint32_t *minor, gss_ctx_id_t context, int conf_req, uint32_t qop, const gss_buffer_desc *input, _Out_ int *conf_state, _Out_ gss_buffer_desc *output)",
    ),
    unwrap: f(
      "uint32_t gss_unwrap(_Out_ uint32_t *minor, gss_ctx_id_t context, const gss_buffer_desc *input, _Out_ gss_buffer_desc *output, _Out_ int *conf_state, _Out_ uint32_t *qop)",
    ),
    wrapSizeLimit: f(
      "uint32_t gss_wrap_size_limit(_Out_ uint32_t *minor, gss_ctx_id_t context, int conf_req, uint32_t qop, uint32_t output_size, _Out_ uint32_t *max_input)",
    ),
    releaseBuffer: f(
      "uint32_t gss_release_buffer(_Out_ uint32_t *minor, _Inout_ gss_buffer_desc *buffer)",
    ),
    displayStatus: f(
      "uint32_t gss_display_status(_Out_ uint32_t *minor, uint32_t status, int type, void *mech, _Inout_ uint32_t *message_context, _Out_ gss_buffer_desc *out)",
    ),
  } as GssLibrary;
  return loaded;
}

/**
 * Copies a buffer the library allocated into JS memory, then releases it: the
 * native memory is gone after gss_release_buffer, a view of it would dangle.
 */
export function takeBuffer(lib: GssLibrary, buffer: Partial<GssBuffer>): Buffer {
  const length = Number(buffer.length ?? 0);
  const copy =
    length > 0 && buffer.value
      ? Buffer.copyBytesFrom(new Uint8Array(koffiNow().view(buffer.value, length)))
      : Buffer.alloc(0);
  if (buffer.value) lib.releaseBuffer([0], { length, value: buffer.value });
  return copy;
}
