import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@edgesocks/telemetry";
import { loadConfigFile } from "../config/load";
import { type Relay, startRelay } from "../relay";
import type { SessionRecord } from "../session/record";

export interface TestRelay {
  relay: Relay;
  port: number;
  /** `127.0.0.1:PORT`, for curl's proxy flags. */
  proxy: string;
  dir: string;
  records: SessionRecord[];
  /** Resolves with the next `count` records (those already seen count). */
  waitForRecords(count: number, timeoutMs?: number): Promise<SessionRecord[]>;
  writeAcl(text: string): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a real relay in this process on an ephemeral loopback port from
 * TOML text, exactly as `--config` would load it.
 */
export async function startTestRelay(toml = "", acl?: string): Promise<TestRelay> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-relay-"));
  const configPath = join(dir, "relay.toml");
  const aclPath = join(dir, "acl.toml");
  if (acl !== undefined) writeFileSync(aclPath, acl);
  writeFileSync(configPath, toml);
  // As --bind and --port would: set before validation (the result is frozen).
  const loaded = loadConfigFile(configPath, [
    { key: ["server", "bind_address"], value: "127.0.0.1", flag: "test" },
    { key: ["server", "bind_port"], value: 0, flag: "test" },
  ]);
  const records: SessionRecord[] = [];
  let waiters: (() => void)[] = [];
  const relay = await startRelay({
    config: loaded.config,
    baseDir: loaded.baseDir,
    logger: createLogger({ level: process.env.TEST_LOG_LEVEL === "debug" ? "debug" : "silent" }),
    onRecord: (record) => {
      records.push(record);
      const current = waiters;
      waiters = [];
      for (const w of current) w();
    },
  });
  const port = relay.socksAddress().port;
  return {
    relay,
    port,
    proxy: `127.0.0.1:${port}`,
    dir,
    records,
    writeAcl: (text) => writeFileSync(aclPath, text),
    waitForRecords: (count, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} session records, have ${records.length}`)),
          timeoutMs,
        );
        const check = () => {
          if (records.length >= count) {
            clearTimeout(timer);
            resolve(records.slice(0, count));
          } else waiters.push(check);
        };
        check();
      }),
    [Symbol.asyncDispose]: async () => {
      await relay.close(0);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
