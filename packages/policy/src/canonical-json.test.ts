import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json";

describe("canonicalJson", () => {
  it("sorts keys at every level and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined }], c: "x" } })).toBe(
      '{"a":{"c":"x","d":[3,{"z":1}]},"b":1}',
    );
  });

  it("encodes undefined array items as null, like JSON.stringify", () => {
    expect(canonicalJson([1, undefined, null])).toBe("[1,null,null]");
  });

  it("refuses values JSON cannot hold", () => {
    expect(() => canonicalJson(() => 1)).toThrow(TypeError);
  });
});
