import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startRelayProcess } from "../src/test-support/relay-process";
import { startEchoTarget } from "../src/test-support/targets";
import { socks5Connect } from "../src/test-support/traffic";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The `threads` of the relay's "relay listening" line (JSON logs). */
function listeningThreads(output: string): number | undefined {
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { msg?: string; threads?: number };
    if (entry.msg === "relay listening") return entry.threads;
  }
  return undefined;
}

describe("server.workers left out of the configuration", () => {
  it('serves with one thread per core ("auto"), and relays', async () => {
    await using target = await startEchoTarget();
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-workers-default-"));
    dirs.push(dir);
    writeFileSync(join(dir, "relay.toml"), "[server]\nidle_timeout_secs = 30\n");
    await using relay = await startRelayProcess({
      configPath: join(dir, "relay.toml"),
      stateDir: join(dir, "state"),
    });
    expect(listeningThreads(relay.output())).toBe(availableParallelism());
    for (let i = 0; i < 4; i++) {
      const { client, reply } = await socks5Connect(relay.port, "127.0.0.1", target.port);
      expect(reply[1]).toBe(0);
      client.write(`ping ${i}`);
      expect((await client.read(6)).toString()).toBe(`ping ${i}`);
      client.socket.destroy();
    }
  });
});
