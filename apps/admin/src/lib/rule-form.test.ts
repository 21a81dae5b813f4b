import { describe, expect, it } from "vitest";
import type { Rule } from "./api-types";
import {
  draftFromRule,
  emptyRuleDraft,
  evaluationOrder,
  ruleFieldError,
  ruleInputFromDraft,
  validateRuleDraft,
} from "./rule-form";

const valid = {
  ...emptyRuleDraft({ kind: "user", name: "alice" }),
  destinations: "*.example.com, 10.0.0.0/8",
  ports: "443, 8000-9000",
};

describe("rule editor validation", () => {
  it("a valid draft has no errors and becomes a rules.create input", () => {
    expect(validateRuleDraft(valid)).toEqual({});
    expect(ruleInputFromDraft({ ...valid, description: "  web  " })).toEqual({
      owner: { kind: "user", name: "alice" },
      action: "allow",
      description: "web",
      destinations: ["*.example.com", "10.0.0.0/8"],
      ports: ["443", "8000-9000"],
      protocols: ["both"],
      priority: 100,
      route: null,
    });
    expect(ruleInputFromDraft({ ...valid, route: " via-parent " }).route).toBe("via-parent");
  });

  it("shows each problem at its own field", () => {
    const errors = validateRuleDraft({
      ...valid,
      ownerName: "",
      destinations: "example.com 10.0.0.0/33",
      ports: "80-70",
      priority: "high",
      id: "bad id",
    });
    expect(errors.ownerName).toBe("choose a user");
    expect(errors.destinations).toContain('"10.0.0.0/33" is not a valid CIDR');
    expect(errors.ports).toContain("reversed range");
    expect(errors.priority).toContain("whole number");
    expect(errors.id).toBeDefined();
  });

  it("an empty list asks for one entry", () => {
    expect(ruleFieldError({ ...valid, destinations: " , " }, "destinations")).toBe(
      "add at least one destination",
    );
    expect(ruleFieldError({ ...valid, ports: "" }, "ports")).toBe("add at least one port");
  });

  it("round-trips a stored rule through the editor", () => {
    const rule: Rule = {
      id: "r-1",
      owner: { kind: "group", name: "devs" },
      action: "block",
      description: null,
      destinations: ["10.0.0.0/8"],
      ports: ["22"],
      protocols: ["tcp"],
      priority: 5,
      route: null,
      position: 0,
    };
    const input = ruleInputFromDraft(draftFromRule(rule));
    expect(input).toMatchObject({
      id: "r-1",
      owner: rule.owner,
      action: "block",
      destinations: ["10.0.0.0/8"],
      ports: ["22"],
      protocols: ["tcp"],
      priority: 5,
    });
  });

  it("orders rules as the engine considers them: block first, then priority, then position", () => {
    const rules = [
      { id: "a", action: "allow" as const, priority: 100, position: 0 },
      { id: "b", action: "block" as const, priority: 1, position: 1 },
      { id: "c", action: "allow" as const, priority: 200, position: 2 },
      { id: "d", action: "allow" as const, priority: 200, position: 3 },
    ];
    expect(evaluationOrder(rules).map((r) => r.id)).toEqual(["b", "c", "d", "a"]);
  });
});
