// The JSON structures of Hrana 3 over HTTP (docs/HRANA_3_SPEC.md of tursodatabase/libsql) that
// the test server in hrana-server.ts reads and writes. Unknown fields are stripped, as the spec
// asks for forward compatibility; an unknown request type fails the whole pipeline.
import { z } from "zod";

export const Value = z.discriminatedUnion("type", [
  z.object({ type: z.literal("null") }),
  z.object({ type: z.literal("integer"), value: z.string().regex(/^-?\d{1,19}$/) }),
  z.object({ type: z.literal("float"), value: z.number() }),
  z.object({ type: z.literal("text"), value: z.string() }),
  z.object({ type: z.literal("blob"), base64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/) }),
]);
export type Value = z.infer<typeof Value>;

const SqlRef = {
  sql: z.string().nullish(),
  sql_id: z.number().int().nullish(),
};

export const Stmt = z.object({
  ...SqlRef,
  args: z.array(Value).optional(),
  named_args: z.array(z.object({ name: z.string().min(1), value: Value })).optional(),
  want_rows: z.boolean().optional(),
});
export type Stmt = z.infer<typeof Stmt>;

export type BatchCond =
  | { type: "ok" | "error"; step: number }
  | { type: "not"; cond: BatchCond }
  | { type: "and" | "or"; conds: BatchCond[] }
  | { type: "is_autocommit" };

export const BatchCond: z.ZodType<BatchCond> = z.lazy(() =>
  z.union([
    z.object({ type: z.enum(["ok", "error"]), step: z.number().int().min(0) }),
    z.object({ type: z.literal("not"), cond: BatchCond }),
    z.object({ type: z.enum(["and", "or"]), conds: z.array(BatchCond) }),
    z.object({ type: z.literal("is_autocommit") }),
  ]),
);

export const Batch = z.object({
  steps: z.array(z.object({ condition: BatchCond.nullish(), stmt: Stmt })),
});
export type Batch = z.infer<typeof Batch>;

export const StreamRequest = z.discriminatedUnion("type", [
  z.object({ type: z.literal("close") }),
  z.object({ type: z.literal("execute"), stmt: Stmt }),
  z.object({ type: z.literal("batch"), batch: Batch }),
  z.object({ type: z.literal("sequence"), ...SqlRef }),
  z.object({ type: z.literal("describe"), ...SqlRef }),
  z.object({ type: z.literal("store_sql"), sql_id: z.number().int(), sql: z.string() }),
  z.object({ type: z.literal("close_sql"), sql_id: z.number().int() }),
  z.object({ type: z.literal("get_autocommit") }),
]);
export type StreamRequest = z.infer<typeof StreamRequest>;

export const PipelineReqBody = z.object({
  baton: z.string().nullish(),
  requests: z.array(StreamRequest),
});

/** Hrana's Error structure. */
export interface ProtoError {
  message: string;
  code?: string | null;
}

export interface Col {
  name: string | null;
  decltype: string | null;
}

export interface StmtResult {
  cols: Col[];
  rows: Value[][];
  affected_row_count: number;
  last_insert_rowid: string | null;
  rows_read: number;
  rows_written: number;
  query_duration_ms: number;
}

export interface BatchResult {
  step_results: (StmtResult | null)[];
  step_errors: (ProtoError | null)[];
}

export interface DescribeResult {
  params: { name: string | null }[];
  cols: Col[];
  is_explain: boolean;
  is_readonly: boolean;
}

export type StreamResult =
  | { type: "ok"; response: { type: StreamRequest["type"] } & Record<string, unknown> }
  | { type: "error"; error: ProtoError };

/** An error with a Hrana error code, reported in the Error structure. */
export class HranaError extends Error {
  override readonly name = "HranaError";
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toProto(): ProtoError {
    return { message: this.message, code: this.code };
  }
}

/** A Hrana value as the engine binds it: integers as BigInt (all 64 bits), floats as numbers. */
export function valueToEngine(value: Value): bigint | number | string | Buffer | null {
  switch (value.type) {
    case "null":
      return null;
    case "integer": {
      const n = BigInt(value.value);
      if (n > 0x7fff_ffff_ffff_ffffn || n < -0x8000_0000_0000_0000n) {
        throw new HranaError("ARGS_INVALID", `integer ${value.value} is outside 64 bits`);
      }
      return n;
    }
    case "float":
      return value.value;
    case "text":
      return value.value;
    case "blob":
      return Buffer.from(value.base64, "base64");
  }
}

/** What the engine returned (safe integers on), as a Hrana value. */
export function valueFromEngine(value: unknown): Value {
  if (value === null || value === undefined) return { type: "null" };
  if (typeof value === "bigint") return { type: "integer", value: value.toString() };
  if (typeof value === "number") return { type: "float", value };
  if (typeof value === "string") return { type: "text", value };
  if (value instanceof Uint8Array) {
    return { type: "blob", base64: Buffer.from(value).toString("base64") };
  }
  throw new HranaError("INTERNAL", `the engine returned a ${typeof value}`);
}
