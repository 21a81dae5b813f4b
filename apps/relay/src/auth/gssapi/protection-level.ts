import { GSS_C_CONF_FLAG, GSS_C_INTEG_FLAG } from "./gss-acceptor";

/**
 * RFC 1961 §4.3 protection levels: 0 is Dante's NEC clear mode (no protection
 * after the login; only ever said in clear), 1 integrity, 2 integrity and
 * confidentiality, 3 selective (each side chooses per message).
 */
export type ProtectionLevel = 0 | 1 | 2 | 3;

/** `[auth.gssapi] protection_level` as the relay's ceiling. */
export type ProtectionSetting = "integrity" | "confidentiality" | "selective";

const CEILING: Record<ProtectionSetting, ProtectionLevel> = {
  integrity: 1,
  confidentiality: 2,
  selective: 3,
};

/**
 * The most the relay grants. Unset: with the NEC clear mode, level 0 (what
 * curl needs: it cannot protect messages); without it, RustSocks' default,
 * integrity (an RFC 1961 client cannot be answered with level 0).
 */
export function maxProtectionLevel(
  setting: ProtectionSetting | undefined,
  necClearMode: boolean,
): ProtectionLevel {
  if (setting === undefined) return necClearMode ? 0 : 1;
  return CEILING[setting];
}

export type LevelChoice =
  | { ok: true; level: ProtectionLevel }
  | { ok: false; reason: "gssapi_bad_level" | "gssapi_protection_unavailable"; detail: string };

/**
 * RFC 1961 §4.2: the server answers the level it agrees to, which may differ
 * from the client's: the lower of the client's request, the configured
 * ceiling and what the established context can do (its ret_flags). An RFC
 * 1961 (wrapped) request has no level 0 to fall back to, so one that would
 * get 0 is refused rather than answered with a level the client never
 * offered to accept.
 */
export function chooseProtectionLevel(options: {
  requested: number;
  max: ProtectionLevel;
  /** ret_flags of the established context. */
  contextFlags: number;
  /** The request came wrapped (RFC 1961), not in clear (NEC). */
  wrapped: boolean;
}): LevelChoice {
  const { requested, max, contextFlags, wrapped } = options;
  if (!Number.isInteger(requested) || requested < (wrapped ? 1 : 0) || requested > 3) {
    return {
      ok: false,
      reason: "gssapi_bad_level",
      detail: `protection level ${requested} (expected ${wrapped ? "1" : "0"}-3)`,
    };
  }
  let level = Math.min(requested, max) as ProtectionLevel;
  if ((contextFlags & GSS_C_INTEG_FLAG) === 0) level = 0;
  else if (level >= 2 && (contextFlags & GSS_C_CONF_FLAG) === 0) level = 1;
  if (wrapped && level === 0) {
    return {
      ok: false,
      reason: "gssapi_protection_unavailable",
      detail:
        max === 0
          ? "the client asked for per-message protection; auth.gssapi.protection_level is unset, so only the NEC clear mode is offered"
          : "the security context offers no integrity",
    };
  }
  return { ok: true, level };
}
