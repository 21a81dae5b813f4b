import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SharedRelayState } from "./shared-state";
import { SharedTable } from "./shared-table";

const ROWS = 16;
const WIDTH = 2;

/** A table in a fresh buffer, and the same operations on a Map as the model. */
function setup() {
  const view = new Int32Array(new SharedArrayBuffer(SharedTable.ints(ROWS, WIDTH) * 4));
  return { table: new SharedTable(view, 0, ROWS, WIDTH), model: new Map<string, number[]>() };
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant("add" as const),
    key: fc.integer({ min: 0, max: 11 }),
    column: fc.integer({ min: 0, max: 1 }),
  }),
  fc.record({
    kind: fc.constant("sub" as const),
    key: fc.integer({ min: 0, max: 11 }),
    column: fc.integer({ min: 0, max: 1 }),
  }),
  fc.record({
    kind: fc.constant("clear" as const),
    key: fc.constant(0),
    column: fc.integer({ min: 0, max: 1 }),
  }),
);

describe("SharedTable", () => {
  it("matches a Map under any sequence of increments, decrements and column clears", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const { table, model } = setup();
        for (const { kind, key, column } of ops) {
          const name = `user-${key}`;
          if (kind === "clear") {
            table.clearColumn(column);
            for (const [k, values] of model) {
              values[column] = 0;
              if (values.every((v) => v === 0)) model.delete(k);
            }
            continue;
          }
          const values = model.get(name) ?? [0, 0];
          if (kind === "sub" && values[column] === 0) continue;
          values[column]! += kind === "add" ? 1 : -1;
          if (values.every((v) => v === 0)) model.delete(name);
          else model.set(name, values);
          const row = table.upsert(name);
          table.set(row, column, table.get(row, column) + (kind === "add" ? 1 : -1));
          table.prune(row);
        }
        for (let key = 0; key < 12; key++) {
          const name = `user-${key}`;
          const row = table.find(name);
          const expected = model.get(name);
          if (!expected) expect(row).toBe(-1);
          else expect([table.get(row, 0), table.get(row, 1)]).toEqual(expected);
        }
      }),
    );
  });

  it("says the table is full instead of overwriting a row", () => {
    const { table } = setup();
    for (let i = 0; i < ROWS; i++) expect(table.upsert(`k${i}`)).toBeGreaterThanOrEqual(0);
    expect(table.upsert("one too many")).toBe(-1);
  });
});

describe("SharedRelayState", () => {
  it("counts a user's sessions across threads and forgets a dead thread's", () => {
    const main = SharedRelayState.create({ shards: 2, keys: 100 });
    const worker = new SharedRelayState(
      main.buffer,
      1,
      { shards: 2, keys: 100 },
      main.quota.buffer,
    );
    const caps = { global: undefined, perUser: 2, perClient: undefined };
    const a = main.sessionLimits().acquire("alice", "10.0.0.1", caps);
    const b = worker.sessionLimits().acquire("alice", "10.0.0.2", caps);
    expect([a.ok, b.ok]).toEqual([true, true]);
    expect(main.sessionLimits().acquire("alice", "10.0.0.3", caps)).toEqual({
      ok: false,
      reason: "connection_limit_user",
    });
    main.releaseShard(1);
    const c = main.sessionLimits().acquire("alice", "10.0.0.3", caps);
    expect(c.ok).toBe(true);
  });

  it("splits a user's rate by busy sessions, and gives a thread not yet published its would-be share", () => {
    const main = SharedRelayState.create({ shards: 2, keys: 100 });
    const worker = new SharedRelayState(
      main.buffer,
      1,
      { shards: 2, keys: 100 },
      main.quota.buffer,
    );
    main.qosShare().publish(new Map([["alice", 3]]));
    worker.qosShare().publish(new Map([["alice", 1]]));
    expect(main.qosShare().userShare("alice", 3)).toBe(0.75);
    expect(worker.qosShare().userShare("alice", 1)).toBe(0.25);
    worker.qosShare().publish(new Map([["alice", 0]]));
    expect(main.qosShare().userShare("alice", 3)).toBe(1);
    expect(worker.qosShare().userShare("alice", 1)).toBe(0.25);
    expect(main.qosShare().globalShare(3)).toBe(1);
  });
});
