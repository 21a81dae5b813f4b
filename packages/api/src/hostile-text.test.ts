import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { appRouter } from "./router";
import * as wire from "./wire";

type Schema = z.core.$ZodType;
interface Leaf {
  path: (string | number)[];
  /** An input with `value` at the leaf, and the literal fields its branch needs. */
  build: (value: string) => unknown;
}

/** Every string leaf of a schema (through objects, arrays, unions, wrappers). */
function stringLeaves(schema: Schema, path: (string | number)[] = []): Leaf[] {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  switch (def.type) {
    case "string":
      return [{ path, build: (value) => value }];
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "nonoptional":
      return stringLeaves(def.innerType as Schema, path);
    case "pipe":
      return stringLeaves(def.in as Schema, path);
    case "array":
      return stringLeaves(def.element as Schema, [...path, 0]).map((leaf) => ({
        path: leaf.path,
        build: (value) => [leaf.build(value)],
      }));
    case "union":
      return (def.options as Schema[]).flatMap((option) => stringLeaves(option, path));
    case "object": {
      const shape = def.shape as Record<string, Schema>;
      const literals: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(shape)) {
        const fieldDef = field._zod.def as unknown as { type: string; values?: unknown[] };
        if (fieldDef.type === "literal") literals[key] = fieldDef.values![0];
      }
      return Object.entries(shape).flatMap(([key, field]) =>
        stringLeaves(field, [...path, key]).map((leaf) => ({
          path: leaf.path,
          build: (value) => ({ ...literals, [key]: leaf.build(value) }),
        })),
      );
    }
    default:
      return [];
  }
}

const isSchema = (value: unknown): value is Schema =>
  typeof value === "object" && value !== null && "_zod" in value;
const procedures = appRouter._def.procedures as unknown as Record<
  string,
  { _def: { inputs: unknown[] } }
>;
const schemas: [string, Schema][] = [
  ...Object.entries(wire)
    .filter(([name]) => !name.endsWith("Output") && name !== "ConfigEvent")
    .flatMap(([name, schema]) =>
      isSchema(schema) ? [[`wire.${name}`, schema] as [string, Schema]] : [],
    ),
  ...Object.entries(procedures).flatMap(([path, procedure]) =>
    procedure._def.inputs
      .filter(isSchema)
      .map((schema) => [`${path} input`, schema] as [string, Schema]),
  ),
];

/** Strings no text field may take: lone surrogates, NUL and other controls, and overlong. */
const hostile = fc.oneof(
  fc
    .tuple(
      fc.string({ maxLength: 5 }),
      fc.integer({ min: 0xd800, max: 0xdfff }),
      fc.string({ maxLength: 5 }),
    )
    .map(([a, unit, b]) => `${a}${String.fromCharCode(unit)}${b}`),
  fc
    .tuple(fc.string({ maxLength: 5 }), fc.constantFrom(0, 1, 0x1b, 0x7f, 0x85, 0x9f))
    .map(([a, code]) => `${a}${String.fromCharCode(code)}`),
  fc.constant("a".repeat(100_001)),
);

const samePath = (a: PropertyKey[], b: PropertyKey[]) =>
  a.length === b.length && a.every((key, i) => key === b[i]);

describe("text fields of every wire schema and API input", () => {
  const leaves = schemas.flatMap(([name, schema]) =>
    stringLeaves(schema).map((leaf) => ({ name, schema, leaf })),
  );

  it("finds the string fields (the walk sees through the schemas)", () => {
    const names = new Set(leaves.map(({ name, leaf }) => `${name}:${leaf.path.join(".")}`));
    for (const expected of [
      "wire.SessionRecord:user",
      "wire.IngestInput:records.0.closeReason",
      "wire.HeartbeatInput:activeSessions.0.destinationHost",
      "wire.ConfigAckInput:reason",
      "sessions.history input:destination",
      "stats.summary input:user",
      "rules.create input:description",
    ]) {
      expect(names, expected).toContain(expected);
    }
  });

  it("refuse lone surrogates, control characters and overlong text at that field", () => {
    fc.assert(
      fc.property(fc.constantFrom(...leaves), hostile, ({ name, schema, leaf }, value) => {
        const result = (schema as z.ZodType).safeParse(leaf.build(value));
        const refused =
          !result.success && result.error.issues.some((issue) => samePath(issue.path, leaf.path));
        if (!refused)
          throw new Error(`${name} ${leaf.path.join(".")} took ${JSON.stringify(value)}`);
      }),
      { numRuns: Math.max(2000, leaves.length * 20) },
    );
  });
});
