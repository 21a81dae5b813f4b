import { type ChildProcess, spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load";
import { startTestRelay } from "../src/test-support/test-relay";
import { startSourceTarget } from "../src/test-support/traffic";

/*
 * A slow client: a 4 KiB receive buffer and 4 KiB read every 50 ms (~80 KB/s),
 * downloading through the relay from a source that sends as fast as it can, so
 * the relay's kernel send queue for it stays full. It prints one line per read
 * ("<epoch seconds> <bytes>") and how the connection ended.
 */
const SLOW_CLIENT = `
import socket, struct, sys, time
proxy_port, target_port, user = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", proxy_port))
s.sendall(b"\\x05\\x01\\x02")
assert s.recv(2) == b"\\x05\\x02"
u = user.encode()
s.sendall(b"\\x01" + bytes([len(u)]) + u + bytes([len(u)]) + u)
assert s.recv(2) == b"\\x01\\x00"
s.sendall(b"\\x05\\x01\\x00\\x01" + bytes([127, 0, 0, 1]) + struct.pack(">H", target_port))
assert s.recv(10)[:2] == b"\\x05\\x00"
print("connected", flush=True)
started = time.time()
end = "timeout"
while time.time() - started < 20:
    try:
        chunk = s.recv(4096)
    except OSError as error:
        end = error.__class__.__name__
        break
    if not chunk:
        end = "eof"
        break
    print(time.time(), len(chunk), flush=True)
    time.sleep(0.05)
print("end", end, flush=True)
`;

interface SlowClient {
  lines: string[];
  exited: Promise<void>;
  child: ChildProcess;
}

function startSlowClient(proxyPort: number, targetPort: number, user: string): SlowClient {
  const child = spawn("python3", ["-c", SLOW_CLIENT, String(proxyPort), String(targetPort), user]);
  const lines: string[] = [];
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { lines, exited, child };
}

/** Epoch seconds of the last read that returned data. */
function lastByteAt(lines: readonly string[]): number {
  const reads = lines.filter((line) => /^\d/.test(line)).map((line) => Number(line.split(" ")[0]));
  return reads.at(-1) ?? 0;
}

const config = (aliceEnabled: boolean) => `
[auth]
socks_method = "userpass"
[[auth.users]]
username = "alice"
password = "alice"
enabled = ${aliceEnabled}
[[auth.users]]
username = "bob"
password = "bob"
`;

describe("terminate and revocation end a slow client's download at once", () => {
  it.each([
    ["an admin's terminate", "bob"],
    ["revoking the user", "alice"],
  ])("%s: no byte arrives a second later (queued data discarded, RST)", async (_, user) => {
    await using source = await startSourceTarget();
    await using relay = await startTestRelay(config(true));
    const client = startSlowClient(relay.port, source.port, user);
    try {
      await expect.poll(() => client.lines.length, { timeout: 10_000 }).toBeGreaterThan(5);
      // Let the relay's send queue for the client fill up.
      await new Promise((r) => setTimeout(r, 1000));
      const [session] = [...relay.relay.sessions.values()];
      expect(session?.user).toBe(user);
      const closedAt = Date.now() / 1000;
      if (user === "bob") expect(relay.relay.terminate(session!.id, "terminated")).toBe(true);
      else expect(relay.relay.reload(parseConfigText(config(false)).config)).toBe(true);
      await client.exited;
      expect(client.lines.at(-1)).toMatch(/^end (ConnectionResetError|eof)$/);
      expect(lastByteAt(client.lines) - closedAt).toBeLessThan(1);
    } finally {
      client.child.kill();
    }
  });
});
