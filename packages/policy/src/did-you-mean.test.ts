import { describe, expect, it } from "vitest";
import { closestKey, editDistance, unknownKeyMessage } from "./did-you-mean";

describe("did you mean", () => {
  it("measures edits", () => {
    expect(editDistance("socks_methd", "socks_method")).toBe(1);
    expect(editDistance("destination", "destinations")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("suggests a close key and nothing for a far one", () => {
    expect(closestKey("socks_methd", ["socks_method", "users"])).toBe("socks_method");
    expect(closestKey("Priority", ["priority"])).toBe("priority");
    expect(closestKey("sessions", ["server", "auth"])).toBeUndefined();
    expect(unknownKeyMessage("destination", ["action", "destinations"])).toBe(
      'unknown key "destination" (did you mean "destinations"?)',
    );
    expect(unknownKeyMessage("zzz", ["a", "b"])).toBe('unknown key "zzz" (known keys: a, b)');
  });
});
