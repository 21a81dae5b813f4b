import { describe, expect, it } from "vitest";
import { DbError } from "./errors";
import { WriteQueue } from "./write-queue";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("WriteQueue", () => {
  it("runs tasks one at a time, in order, even when one fails", async () => {
    const queue = new WriteQueue();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, fail = false) =>
      queue.run(async () => {
        running += 1;
        expect(running).toBe(1);
        log.push(`start ${name}`);
        await tick();
        log.push(`end ${name}`);
        running -= 1;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task("a"), task("b", true), task("c")]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    expect(queue.depth).toBe(0);
  });

  it("refuses tasks past maxPending with DB_E_QUEUE_FULL", async () => {
    const queue = new WriteQueue({ maxPending: 1 });
    let release!: () => void;
    const blocker = queue.run(() => new Promise<void>((resolve) => (release = resolve)));
    const second = queue.run(async () => "second");
    await expect(queue.run(async () => "third")).rejects.toMatchObject({
      code: "DB_E_QUEUE_FULL",
    });
    expect(queue.refused).toBe(1);
    release();
    await blocker;
    await expect(second).resolves.toBe("second");
  });

  it("drains on close and refuses new work", async () => {
    const queue = new WriteQueue();
    let done = false;
    void queue.run(async () => {
      await tick();
      done = true;
    });
    await queue.close();
    expect(done).toBe(true);
    const error = await queue.run(async () => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbError);
    expect((error as DbError).code).toBe("DB_E_QUEUE_CLOSED");
  });
});
