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
      sources: null,
      schedule: null,
      closeAtWindowEnd: false,
      route: null,
    });
    expect(ruleInputFromDraft({ ...valid, route: " via-parent " }).route).toBe("via-parent");
  });

  it("turns sources and a window into the rule's conditions", () => {
    const draft = {
      ...valid,
      sources: "127.0.0.2, 10.20.0.0/16\ncountry:de",
      days: "mon-fri, sun",
      times: "09:00-17:30",
      timezone: " Europe/Berlin ",
      closeAtWindowEnd: true,
    };
    expect(validateRuleDraft(draft)).toEqual({});
    expect(ruleInputFromDraft(draft)).toMatchObject({
      sources: ["127.0.0.2", "10.20.0.0/16", "country:de"],
      schedule: { days: ["mon-fri", "sun"], times: ["09:00-17:30"], timezone: "Europe/Berlin" },
      closeAtWindowEnd: true,
    });
    // Only a zone: every day, all day, in that zone; nothing at all: no window.
    expect(ruleInputFromDraft({ ...valid, timezone: "UTC" }).schedule).toEqual({ timezone: "UTC" });
    expect(ruleInputFromDraft(valid).schedule).toBeNull();
  });

  it("shows the policy package's messages at the source and window fields", () => {
    const errors = validateRuleDraft({
      ...valid,
      sources: "127.0.0.2 country:XX",
      days: "mon-fry",
      times: "09:00-25:00",
      timezone: "Mars/Olympus",
    });
    expect(errors.sources).toBe('"country:XX": XX is not an ISO 3166-1 alpha-2 country code');
    expect(errors.days).toContain('days[0]: "mon-fry" is not a day');
    expect(errors.times).toContain('times[0]: "09:00-25:00" is not a time window');
    expect(errors.timezone).toContain('"Mars/Olympus" is not an IANA time zone');
    expect(errors.closeAtWindowEnd).toBeUndefined();
    expect(ruleFieldError({ ...valid, sources: "example.com" }, "sources")).toContain(
      "is not a source",
    );
    expect(ruleFieldError({ ...valid, closeAtWindowEnd: true }, "closeAtWindowEnd")).toBe(
      "needs a window: set days, times or a time zone",
    );
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
      sources: ["127.0.0.2"],
      schedule: { days: ["fri-mon"], times: ["22:00-06:00"] },
      closeAtWindowEnd: true,
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
      sources: ["127.0.0.2"],
      schedule: { days: ["fri-mon"], times: ["22:00-06:00"] },
      closeAtWindowEnd: true,
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
