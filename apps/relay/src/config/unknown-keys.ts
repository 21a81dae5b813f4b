import { z } from "zod";

/**
 * Dotted paths of keys in `raw` that `schema` does not know, so a RustSocks
 * file loads with one warning per unsupported key instead of failing.
 */
export function unknownKeys(schema: z.ZodType, raw: unknown, path = ""): string[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject && isRecord(raw)) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return Object.entries(raw).flatMap(([key, value]) => {
      const child = shape[key];
      const childPath = path ? `${path}.${key}` : key;
      return child ? unknownKeys(child, value, childPath) : [childPath];
    });
  }
  if (inner instanceof z.ZodArray && Array.isArray(raw)) {
    return raw.flatMap((item, i) => unknownKeys(inner.element as z.ZodType, item, `${path}[${i}]`));
  }
  return [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodDefault ||
    current instanceof z.ZodNullable
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
