import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AppRouter } from "@edgesocks/api";
import { createTRPCClient, httpLink, type TRPCClient } from "@trpc/client";
import { freePort } from "./relay-process";

const BIN = resolve(import.meta.dirname, "../../../control/bin/edgesocks-control.mjs");
const ADMIN_TOKEN = `esa_${"rec".repeat(10)}`;

export interface ControlProcess extends AsyncDisposable {
  readonly url: string;
  readonly child: ChildProcess;
  /** An admin client over HTTP. */
  readonly api: TRPCClient<AppRouter>;
  /** Enrolls a node and exchanges its token, as a relay would: the node token. */
  enrollNode(name: string): Promise<string>;
  /** SIGTERM; resolves once the process exited. */
  stop(): Promise<void>;
  /** Starts the process again on the same port and database. */
  start(): Promise<void>;
}

/** The real control plane binary on 127.0.0.1, on a fresh libSQL file. */
export async function startControlProcess(): Promise<ControlProcess> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-control-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child!: ChildProcess;
  const start = async () => {
    child = spawn(process.execPath, [BIN], {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        DATABASE_URL: `file:${join(dir, "control.db")}`,
        HOST: "127.0.0.1",
        PORT: String(port),
        EDGESOCKS_ADMIN_TOKEN: ADMIN_TOKEN,
        EDGESOCKS_ADMIN_TOKEN_FILE: join(dir, "admin-token"),
        EDGESOCKS_MIGRATE_ON_START: "true",
        EDGESOCKS_LOG_LEVEL: "warn",
      },
    });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(`${url}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`control plane did not become ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    await exited;
  };
  await start();
  const api = createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${url}/trpc`, headers: () => ({ authorization: `Bearer ${ADMIN_TOKEN}` }) }),
    ],
  });
  return {
    url,
    get child() {
      return child;
    },
    api,
    enrollNode: async (name) => {
      const { enrollmentToken } = await api.nodes.enroll.mutate({ name, region: "test" });
      const { nodeToken } = await api.nodes.exchange.mutate({
        enrollmentToken,
        softwareVersion: "test",
        publicAddress: null,
      });
      return nodeToken;
    },
    stop,
    start,
    [Symbol.asyncDispose]: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
