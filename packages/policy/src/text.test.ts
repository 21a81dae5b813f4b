import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAclToml } from "./acl-toml";
import { sealSnapshot } from "./snapshot";
import { text, textProblem } from "./text";

const base = {
  version: 1,
  epoch: "test",
  createdAt: "2025-01-01T00:00:00Z",
  auth: { methods: ["userpass" as const] },
  acl: { enabled: true, defaultPolicy: "block" as const },
  groups: [],
  qos: { enabled: false },
};

describe("text()", () => {
  it("takes any well-formed text without control characters, up to max", () => {
    const schema = text({ max: 50 });
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 10 }), (value) => {
        fc.pre(textProblem(value) === null);
        expect(schema.parse(value)).toBe(value);
      }),
    );
    expect(schema.parse("ünïcødé 🦊")).toBe("ünïcødé 🦊");
    expect(text({ max: 50, multiline: true }).parse("a\n\tb\r\n")).toBe("a\n\tb\r\n");
  });

  it.each([
    ["a\ud800b", "lone surrogate at character 1"],
    ["\udfff", "lone surrogate at character 0"],
    ["a\u0000", "U+0000 at index 1"],
    ["\u001b[2J", "U+001B"],
    ["\u0085", "U+0085"],
    ["line\nbreak", "U+000A"],
  ])("refuses %j, naming the problem", (value, problem) => {
    const result = text({ max: 50 }).safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain(problem);
  });

  it("refuses overlong text", () => {
    expect(text({ max: 3 }).safeParse("abcd").success).toBe(false);
  });
});

describe("policy documents refuse text that is not well-formed", () => {
  it("a snapshot with a lone surrogate in a username, a NUL in a description", () => {
    const user = sealSnapshot({ ...base, users: [{ username: "al\ud800ice" }], rules: [] });
    expect(user.ok).toBe(false);
    expect(!user.ok && user.error).toContain("users[0].username");
    const rule = sealSnapshot({
      ...base,
      users: [{ username: "alice" }],
      rules: [
        {
          id: "r1",
          owner: { kind: "user", name: "alice" },
          action: "allow",
          description: "a\u0000b",
          destinations: ["*"],
          ports: ["*"],
        },
      ],
    });
    expect(!rule.ok && rule.error).toContain("rules[0].description");
  });

  it("an acl.toml with a NUL escape in a username", () => {
    const result = parseAclToml('[[users]]\nusername = "al\\u0000ice"\n');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain("U+0000");
  });
});
