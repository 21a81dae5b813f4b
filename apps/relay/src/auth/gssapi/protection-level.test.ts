import { describe, expect, it } from "vitest";
import { GSS_C_CONF_FLAG, GSS_C_INTEG_FLAG } from "./gss-acceptor";
import { chooseProtectionLevel, maxProtectionLevel } from "./protection-level";

const BOTH = GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG;

describe("RFC 1961 protection level choice", () => {
  it("takes the lower of the request and the configured ceiling", () => {
    const choose = (requested: number, max: 0 | 1 | 2 | 3) =>
      chooseProtectionLevel({ requested, max, contextFlags: BOTH, wrapped: true });
    expect(choose(2, 1)).toEqual({ ok: true, level: 1 });
    expect(choose(1, 2)).toEqual({ ok: true, level: 1 });
    expect(choose(2, 2)).toEqual({ ok: true, level: 2 });
    expect(choose(3, 2)).toEqual({ ok: true, level: 2 });
    // selective lets the client choose, level 3 included
    expect(choose(3, 3)).toEqual({ ok: true, level: 3 });
    expect(choose(1, 3)).toEqual({ ok: true, level: 1 });
  });

  it("never grants what the context cannot do", () => {
    expect(
      chooseProtectionLevel({
        requested: 2,
        max: 3,
        contextFlags: GSS_C_INTEG_FLAG,
        wrapped: true,
      }),
    ).toEqual({ ok: true, level: 1 });
    expect(
      chooseProtectionLevel({ requested: 2, max: 3, contextFlags: 0, wrapped: true }),
    ).toMatchObject({ ok: false, reason: "gssapi_protection_unavailable" });
  });

  it("answers a clear (NEC) request with level 0 only when asked or configured so", () => {
    const nec = (requested: number, max: 0 | 1 | 2 | 3) =>
      chooseProtectionLevel({ requested, max, contextFlags: BOTH, wrapped: false });
    expect(nec(2, 0)).toEqual({ ok: true, level: 0 });
    expect(nec(0, 2)).toEqual({ ok: true, level: 0 });
    expect(nec(2, 2)).toEqual({ ok: true, level: 2 });
    expect(nec(1, 3)).toEqual({ ok: true, level: 1 });
  });

  it("refuses levels outside RFC 1961 and a wrapped request that would get level 0", () => {
    expect(
      chooseProtectionLevel({ requested: 4, max: 3, contextFlags: BOTH, wrapped: false }),
    ).toMatchObject({ ok: false, reason: "gssapi_bad_level" });
    expect(
      chooseProtectionLevel({ requested: 0, max: 3, contextFlags: BOTH, wrapped: true }),
    ).toMatchObject({ ok: false, reason: "gssapi_bad_level" });
    expect(
      chooseProtectionLevel({ requested: 2, max: 0, contextFlags: BOTH, wrapped: true }),
    ).toMatchObject({ ok: false, reason: "gssapi_protection_unavailable" });
  });

  it("reads an unset protection_level as clear with the NEC mode and as integrity without", () => {
    expect(maxProtectionLevel(undefined, true)).toBe(0);
    expect(maxProtectionLevel(undefined, false)).toBe(1);
    expect(maxProtectionLevel("integrity", true)).toBe(1);
    expect(maxProtectionLevel("confidentiality", false)).toBe(2);
    expect(maxProtectionLevel("selective", false)).toBe(3);
  });
});
