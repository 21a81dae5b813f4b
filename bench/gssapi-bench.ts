/**
 * GSS-API per-message protection throughput (issue 16): one SOCKS5 session
 * through a real relay process, plain (no authentication) next to GSS-API
 * sessions at protection level 0 (NEC clear), 1 (integrity) and 2
 * (confidentiality), in the same run, against a real MIT KDC on loopback.
 * The client is Debian's python3-gssapi (bench/gssapi_throughput.py), which
 * wraps and unwraps on its own core; the relay runs with one SOCKS thread.
 * Needs krb5-kdc, krb5-admin-server, krb5-user and python3-gssapi.
 * Run: `tsx bench/gssapi-bench.ts [--bytes N] [--runs N]`. Numbers are printed, never asserted.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KdcFixture } from "../apps/relay/src/test-support/kdc-fixture";
import { type RelayProcess, startRelayProcess } from "../apps/relay/src/test-support/relay-process";
import { treeCpuSeconds } from "./proc-stats";
import { median } from "./stats";

const { values } = parseArgs({
  options: {
    bytes: { type: "string", default: String(256 * 1024 * 1024) },
    runs: { type: "string", default: "3" },
  },
});
const BYTES = Number(values.bytes);
const RUNS = Number(values.runs);
const CLIENT = join(import.meta.dirname, "gssapi_throughput.py");
const PYTHON = "/usr/bin/python3";

/** Reads an 8-byte length and a direction: "u" sinks that many bytes then acks, "d" sends them. */
function startTarget(): Promise<{ port: number; close(): void }> {
  const block = Buffer.alloc(256 * 1024, 0x5a);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    let left = -1;
    socket.on("data", (chunk: Buffer) => {
      if (left < 0) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 9) return;
        left = Number(head.readBigUInt64BE(0));
        const up = head[8] === 0x75;
        const rest = head.length - 9;
        if (!up) {
          socket.removeAllListeners("data");
          sendDown(socket, left, block);
          return;
        }
        left -= rest;
      } else left -= chunk.length;
      if (left === 0) socket.write("k");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    ),
  );
}

function sendDown(socket: Socket, total: number, block: Buffer): void {
  let left = total;
  const pump = () => {
    while (left > 0) {
      const piece = left >= block.length ? block : block.subarray(0, left);
      left -= piece.length;
      if (!socket.write(piece)) {
        socket.once("drain", pump);
        return;
      }
    }
  };
  pump();
}

function client(
  args: string[],
  env: Record<string, string>,
): Promise<{ seconds: number; level: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [CLIENT, ...args],
      { env: { ...process.env, ...env }, timeout: 300_000, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr}`));
        const [seconds, level] = stdout.trim().split(" ");
        resolve({ seconds: Number(seconds), level: Number(level) });
      },
    );
  });
}

async function relay(dir: string, name: string, auth: string): Promise<RelayProcess> {
  const configPath = join(dir, `${name}.toml`);
  writeFileSync(
    configPath,
    `[server]\nbind_address = "127.0.0.1"\nworkers = 1\n[logging]\nlevel = "warn"\n${auth}`,
  );
  const stateDir = join(dir, `${name}-state`);
  return startRelayProcess({ configPath, stateDir });
}

const missing = [
  ["/usr/sbin/krb5kdc", "krb5-kdc"],
  ["/usr/sbin/kadmin.local", "krb5-admin-server"],
  ["/usr/bin/kinit", "krb5-user"],
  ["/usr/lib/python3/dist-packages/gssapi", "python3-gssapi"],
].filter(([path]) => !existsSync(path!));
if (missing.length > 0) {
  console.log(
    `### GSS-API per-message protection (bench/gssapi-bench.ts)\n\nNot measured: install ${missing.map(([, pkg]) => pkg).join(", ")}.`,
  );
  process.exit(0);
}
const kdc = await KdcFixture.start();
const dir = mkdtempSync(join(tmpdir(), "edgesocks-gssapi-bench-"));
const target = await startTarget();
try {
  Object.assign(process.env, kdc.env);
  const keytab = join(kdc.dir, "relay.keytab");
  kdc.service("rcmd/localhost", keytab);
  kdc.user("alice", "alice-pw");
  const cache = kdc.kinit("alice", "alice-pw");
  await using plainRelay = await relay(dir, "plain", "");
  await using gssRelay = await relay(
    dir,
    "gssapi",
    `[auth]\nsocks_method = "gssapi"\n[auth.gssapi]\nkeytab_path = "${keytab}"\nnec_clear_mode = true\nprotection_level = "selective"\n`,
  );
  const rows: string[] = [];
  const cases: [string, RelayProcess, string][] = [
    ["plain (no auth)", plainRelay, "plain"],
    ["GSS-API level 0 (NEC clear)", gssRelay, "0"],
    ["GSS-API level 1 (integrity)", gssRelay, "1"],
    ["GSS-API level 2 (confidentiality)", gssRelay, "2"],
  ];
  const env = { KRB5CCNAME: cache };
  // Warm-up: the relay's JIT and the KDC's first tickets.
  for (const [, r, level] of cases)
    await client([String(r.port), level, String(target.port), "up", String(8 << 20)], env);
  for (const [name, r, level] of cases) {
    const cells: string[] = [];
    for (const direction of ["up", "down"] as const) {
      const rates: number[] = [];
      const cpu: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const before = treeCpuSeconds(r.child.pid!);
        const result = await client(
          [String(r.port), level, String(target.port), direction, String(BYTES)],
          env,
        );
        const used = treeCpuSeconds(r.child.pid!) - before;
        if (level !== "plain" && result.level !== Number(level))
          throw new Error(`${name}: granted level ${result.level}`);
        rates.push(BYTES / 1e6 / result.seconds);
        cpu.push(used / (BYTES / 1e9));
      }
      cells.push(median(rates).toFixed(0), median(cpu).toFixed(2));
    }
    rows.push(`| ${name} | ${cells.join(" | ")} |`);
  }
  console.log(`### GSS-API per-message protection, one session (bench/gssapi-bench.ts)

${(BYTES / 1048576).toFixed(0)} MiB per run, median of ${RUNS}; relay with one SOCKS thread; client python3-gssapi (its own wrap/unwrap on the other core), frames of 65,000 payload bytes from the client.

| Session | up MB/s | up relay CPU s/GB | down MB/s | down relay CPU s/GB |
| --- | ---: | ---: | ---: | ---: |
${rows.join("\n")}`);
} finally {
  target.close();
  await kdc.dispose();
  rmSync(dir, { recursive: true, force: true });
}
