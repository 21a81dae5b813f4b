import { describe, expect, it } from "vitest";
import { compilePorts, parsePortSpec, portMatches } from "./ports";

describe("parsePortSpec", () => {
  it.each([
    ["443", [[443, 443]]],
    ["8000-9000", [[8000, 9000]]],
    [
      "80,443,8080",
      [
        [80, 80],
        [443, 443],
        [8080, 8080],
      ],
    ],
    [
      "80, 8000 - 8100",
      [
        [80, 80],
        [8000, 8100],
      ],
    ],
    ["0", [[0, 0]]],
    ["65535", [[65535, 65535]]],
  ])("accepts %j", (spec, ranges) => {
    expect(parsePortSpec(spec)).toEqual({ ok: true, any: false, ranges });
  });

  it("accepts * as any port", () => {
    expect(parsePortSpec("*")).toEqual({ ok: true, any: true, ranges: [] });
  });

  it.each([
    ["70000", '"70000" is not a port (0-65535)'],
    ["", '"" is not a port (0-65535)'],
    ["http", '"http" is not a port (0-65535)'],
    ["-1", '"-1" is not a port range (like "8000-9000")'],
    ["1-2-3", '"1-2-3" is not a port range (like "8000-9000")'],
    ["9000-8000", '"9000-8000" is a reversed range (start > end)'],
    ["80,*", '"*" is not a port (0-65535)'],
    ["80,", '"" is not a port (0-65535)'],
  ])("refuses %j", (spec, error) => {
    expect(parsePortSpec(spec)).toEqual({ ok: false, error });
  });
});

describe("compilePorts and portMatches", () => {
  it("merges specs into sorted disjoint ranges", () => {
    const set = compilePorts(["443", "80,81", "82-90", "8000-9000", "8500"]);
    expect([...set.ranges]).toEqual([80, 90, 443, 443, 8000, 9000]);
    for (const [port, expected] of [
      [79, false],
      [80, true],
      [90, true],
      [91, false],
      [443, true],
      [8999, true],
      [9001, false],
    ] as const) {
      expect(portMatches(set, port), String(port)).toBe(expected);
    }
  });

  it("treats * and 0-65535 as any port", () => {
    expect(compilePorts(["22", "*"]).any).toBe(true);
    expect(compilePorts(["0-65535"]).any).toBe(true);
    expect(portMatches(compilePorts(["*"]), 0)).toBe(true);
  });
});
