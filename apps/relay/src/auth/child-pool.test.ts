import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ChildPool, type ChildResult } from "./child-pool";

describe("ChildPool", () => {
  it("passes stdin to the child and returns its exit code and output", async () => {
    const pool = new ChildPool();
    const result = await pool.run("/bin/sh", ["-c", "read line; echo got:$line; exit 3"], "hi\n");
    expect(result).toMatchObject({ kind: "exited", code: 3, stdout: "got:hi\n" });
  });

  it("kills a child past its deadline, and what it started (its process group)", async () => {
    const pool = new ChildPool({ timeoutMs: 5_000 });
    const killer = new ChildPool({ timeoutMs: 300 });
    const pidFile = `/tmp/edgesocks-child-pool-${process.pid}`;
    const killed = await killer.run("/bin/sh", ["-c", `sleep 30 & echo $! > ${pidFile}; wait`]);
    expect(killed).toEqual({ kind: "timeout" });
    expect(killer.running).toBe(0);
    const read = await pool.run("/bin/cat", [pidFile]);
    const pid = read.kind === "exited" ? read.stdout.trim() : "";
    expect(pid).toMatch(/^\d+$/);
    await new Promise((r) => setTimeout(r, 100));
    // Gone, or a zombie waiting for its new parent to reap it: not running either way.
    expect(alive(pid)).toBe(false);
    await pool.run("/bin/rm", ["-f", pidFile]);
  });

  it("queues up to maxQueued runs past maxProcesses, then refuses at once", async () => {
    const pool = new ChildPool({ maxProcesses: 1, maxQueued: 1, timeoutMs: 5_000 });
    const order: string[] = [];
    const noted = (name: string) => (result: ChildResult) => {
      order.push(name);
      return result;
    };
    const first = pool.run("/bin/sh", ["-c", "read x"], "").then(noted("first"));
    const second = pool.run("/bin/true", []).then(noted("second"));
    expect(pool.queued).toBe(1);
    const third = await pool.run("/bin/true", []);
    order.push("third");
    expect(third).toEqual({ kind: "busy" });
    expect((await first).kind).toBe("exited");
    expect((await second).kind).toBe("exited");
    expect(order).toEqual(["third", "first", "second"]);
  });

  it("reports a program that cannot start", async () => {
    const result = await new ChildPool().run("/nonexistent/helper", []);
    expect(result.kind).toBe("failed");
  });
});

function alive(pid: string): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
