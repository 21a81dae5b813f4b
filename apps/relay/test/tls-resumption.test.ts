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

/**
 * One connection offering `session`: whether it resumed, and the new ticket it was given (null
 * when none came within a second of the handshake).
 */
function resumeOnce(
  port: number,
  ca: Buffer,
  session: Buffer,
): Promise<{ reused: boolean; next: Buffer | null }> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca,
      session,
    });
    socket.once("error", reject);
    socket.resume();
    const finish = (next: Buffer | null) => {
      clearTimeout(timer);
      resolve({ reused: socket.isSessionReused(), next });
      socket.destroy();
    };
    const timer = setTimeout(() => finish(null), 1000);
    socket.once("session", (ticket: Buffer) => finish(ticket));
  });
}

/** A relay serving SOCKS over TLS from two threads, and the CA its certificate is from. */
async function startTlsRelay() {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-tls-resumption-"));
  dirs.push(dir);
  const pki = createPki(join(dir, "ca"));
  const server = pki.issue("server");
  writeFileSync(
    join(dir, "relay.toml"),
    `[server]\nworkers = 2\n[server.tls]\nenabled = true\ncertificate_path = "${server.cert}"\nprivate_key_path = "${server.key}"\n`,
  );
  const relay = await startRelayProcess({
    configPath: join(dir, "relay.toml"),
    stateDir: join(dir, "state"),
  });
  return Object.assign(relay, { ca: readFileSync(pki.caCert) });
}

describe("SOCKS over TLS with several threads", () => {
  it("gives every resumed connection a new ticket, so a client using each ticket once always resumes", async () => {
    await using relay = await startTlsRelay();
    const { ca } = relay;
    // RFC 8446 C.4: a client should not reuse a ticket; each connection offers the last one given.
    let ticket = await firstTicket(relay.port, ca);
    const chain: { reused: boolean; renewed: boolean }[] = [];
    for (let i = 0; i < 12; i++) {
      const { reused, next } = await resumeOnce(relay.port, ca, ticket);
      chain.push({ reused, renewed: next !== null });
      if (next) ticket = next;
    }
    expect(chain).toEqual(chain.map(() => ({ reused: true, renewed: true })));
  });

  it("resumes a returning client's session on whichever thread takes the connection", async () => {
    await using relay = await startTlsRelay();
    const { ca } = relay;
    const ticket = await firstTicket(relay.port, ca);
    // The kernel spreads connections over the two threads' listeners by their
    // source ports: 24 connections reach both threads (all on one: 2⁻²³).
    const reused: boolean[] = [];
    for (let i = 0; i < 24; i++) reused.push(await resumes(relay.port, ca, ticket));
    expect(reused).toEqual(reused.map(() => true));
  });
});
