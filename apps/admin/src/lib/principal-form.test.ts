import { describe, expect, it } from "vitest";
import { limitError, nameError, parseLimit, parseQosDraft, qosDraft } from "./principal-form";

describe("user and group forms", () => {
  it("empty QoS fields inherit (null); sizes take units", () => {
    expect(parseQosDraft({ guaranteed: "", max: "10M", burst: "1 MiB" })).toEqual({
      ok: true,
      qos: { guaranteedBytesPerSec: null, maxBytesPerSec: 10 * 1024 ** 2, burstBytes: 1024 ** 2 },
    });
  });

  it("reports bad QoS fields at the field", () => {
    const result = parseQosDraft({ guaranteed: "2M", max: "1M", burst: "fast" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.guaranteed).toBe("must not exceed the maximum");
    expect(result.errors.burst).toContain("not a size");
    expect(parseQosDraft({ guaranteed: "", max: "0", burst: "" })).toMatchObject({
      ok: false,
      errors: { max: "must be at least 1" },
    });
  });

  it("round-trips stored overrides", () => {
    const qos = { guaranteedBytesPerSec: 1000, maxBytesPerSec: null, burstBytes: 5 };
    expect(parseQosDraft(qosDraft(qos))).toEqual({ ok: true, qos });
  });

  it("validates names and connection limits", () => {
    expect(nameError("  ", "Username")).toBe("Username is required");
    expect(nameError("alice", "Username")).toBeNull();
    // The API's own Name schema: what it refuses, the form refuses at the field.
    expect(nameError("bell\u0007", "Username")).toMatch(/^Username: .*control/);
    expect(nameError("x".repeat(256), "Username")).toMatch(/^Username: /);
    expect(limitError("")).toBeNull();
    expect(limitError("100")).toBeNull();
    expect(limitError("-1")).not.toBeNull();
    expect(limitError("ten")).not.toBeNull();
    expect(parseLimit(" ")).toBeNull();
    expect(parseLimit("7")).toBe(7);
  });
});
