import { describe, expect, it } from "vitest";
import { destinationFilterError, priorityError, ruleIdError, splitList } from "./validate";

describe("the app's own fields", () => {
  it("priority is a bounded whole number", () => {
    expect(priorityError("100")).toBeNull();
    expect(priorityError("-5")).toBeNull();
    expect(priorityError("1.5")).toContain("whole number");
    expect(priorityError("2000000")).toContain("between");
  });

  it("rule ids follow the API's pattern", () => {
    expect(ruleIdError("")).toBeNull();
    expect(ruleIdError("allow-web.1")).toBeNull();
    expect(ruleIdError("-x")).not.toBeNull();
    expect(ruleIdError("has space")).not.toBeNull();
  });

  it("history destination filter takes a host, *.domain, IP or CIDR", () => {
    expect(destinationFilterError("")).toBeNull();
    expect(destinationFilterError("example.com")).toBeNull();
    expect(destinationFilterError("*.example.com")).toBeNull();
    expect(destinationFilterError("10.0.0.0/8")).toBeNull();
    expect(destinationFilterError("10.0.0.0/40")).toContain("prefix");
    expect(destinationFilterError("a*b.com")).toContain("not a host");
  });

  it("splitList splits on commas, spaces and new lines", () => {
    expect(splitList(" a.com, b.com\n10.0.0.0/8  ,, ")).toEqual(["a.com", "b.com", "10.0.0.0/8"]);
  });
});
