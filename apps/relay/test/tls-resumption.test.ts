import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { createPki } from "../src/test-support/pki";
import { startRelayProcess } from "../src/test-support/relay-process";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The session ticket a first TLS connection gets (TLS 1.3 sends it after the handshake). */
function firstTicket(port: number, ca: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ca });
    socket.once("error", reject);
    socket.resume();
    socket.once("session", (ticket: Buffer) => {
      socket.destroy();
      resolve(ticket);
    });
  });
}

/** Whether a connection offering `session` resumed it. */
function resumes(port: number, ca: Buffer, session: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect(
      { host: "127.0.0.1", port, servername: "localhost", ca, session },
      () => {
        resolve(socket.isSessionReused());
        socket.destroy();
      },
    );
    socket.once("error", reject);
  });
}

describe("SOCKS over TLS with several threads", () => {
  it("resumes a returning client's session on whichever thread takes the connection", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-tls-resumption-"));
    dirs.push(dir);
    const pki = createPki(join(dir, "ca"));
    const server = pki.issue("server");
    writeFileSync(
      join(dir, "relay.toml"),
      `[server]\nworkers = 2\n[server.tls]\nenabled = true\ncertificate_path = "${server.cert}"\nprivate_key_path = "${server.key}"\n`,
    );
    await using relay = await startRelayProcess({
      configPath: join(dir, "relay.toml"),
      stateDir: join(dir, "state"),
    });
    const ca = readFileSync(pki.caCert);
    const ticket = await firstTicket(relay.port, ca);
    // The kernel spreads connections over the two threads' listeners by their
    // source ports: 24 connections reach both threads (all on one: 2⁻²³).
    const reused: boolean[] = [];
    for (let i = 0; i < 24; i++) reused.push(await resumes(relay.port, ca, ticket));
    expect(reused).toEqual(reused.map(() => true));
  });
});
