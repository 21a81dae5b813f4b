import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import { describe, expect, it } from "vitest";
import { createPki, type Pki } from "../src/test-support/pki";
import { connectRequestV4 } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

function tlsConfig(pki: Pki, extra = "") {
  const server = pki.issue("server");
  return `
[server.tls]
enabled = true
certificate_path = "${server.cert}"
private_key_path = "${server.key}"
min_protocol_version = "TLSv1.2"
${extra}
`;
}

function openTls(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: "127.0.0.1", port, servername: "localhost", ...options },
      () => resolve(socket),
    );
    socket.once("error", reject);
  });
}

async function socksOverTls(socket: TLSSocket, targetPort: number): Promise<string> {
  const received: Buffer[] = [];
  socket.on("data", (c: Buffer) => received.push(c));
  socket.write(Buffer.from([5, 1, 0, ...connectRequestV4("127.0.0.1", targetPort)]));
  socket.write("GET / HTTP/1.0\r\n\r\n");
  await new Promise((resolve) => {
    if (socket.readableEnded || socket.destroyed) resolve(null);
    socket.on("end", resolve);
    socket.on("close", resolve);
  });
  const all = Buffer.concat(received);
  expect([...all.subarray(0, 3)]).toEqual([5, 0, 5]);
  return all.subarray(12).toString().split("\r\n\r\n")[1] ?? "";
}

describe("SOCKS over TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-tls-"));
  const pki = createPki(join(dir, "ca"));

  it("relays over TLS 1.3 and TLS 1.2, and refuses a TLS 1.1 client", async () => {
    await using target = await startHttpTarget("over tls");
    await using relay = await startTestRelay(tlsConfig(pki));
    const v13 = await openTls(relay.port, { ca: readFileSync(pki.caCert) });
    expect(v13.getProtocol()).toBe("TLSv1.3");
    expect(await socksOverTls(v13, target.port)).toBe("over tls");
    const v12 = await openTls(relay.port, { ca: readFileSync(pki.caCert), maxVersion: "TLSv1.2" });
    expect(v12.getProtocol()).toBe("TLSv1.2");
    expect(await socksOverTls(v12, target.port)).toBe("over tls");
    await expect(
      openTls(relay.port, {
        ca: readFileSync(pki.caCert),
        minVersion: "TLSv1",
        maxVersion: "TLSv1.1",
        ciphers: "DEFAULT@SECLEVEL=0",
      }),
    ).rejects.toThrow();
  });

  it("mutual TLS: a certificate from the right CA gets in, one from another CA or an expired one does not", async () => {
    await using target = await startHttpTarget("mtls");
    const clientCert = pki.issue("alice-client", { cn: "alice" });
    const expired = pki.issue("expired-client", { cn: "old", expired: true });
    const otherPki = createPki(join(dir, "other"), "Other CA");
    const stranger = otherPki.issue("stranger");
    await using relay = await startTestRelay(
      tlsConfig(
        pki,
        `require_client_auth = true\nclient_ca_path = "${pki.caCert}"\ntls_client_cert_as_user = true`,
      ),
    );
    const ca = readFileSync(pki.caCert);
    const good = await openTls(relay.port, {
      ca,
      cert: readFileSync(clientCert.cert),
      key: readFileSync(clientCert.key),
    });
    expect(await socksOverTls(good, target.port)).toBe("mtls");
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ user: "alice", transport: "tls" });

    for (const bad of [expired, stranger, undefined]) {
      const attempt = openTls(relay.port, {
        ca,
        ...(bad ? { cert: readFileSync(bad.cert), key: readFileSync(bad.key) } : {}),
      }).then(
        (socket) =>
          // TLS 1.3 reports a refused client certificate after the handshake.
          new Promise<string>((resolve) => {
            socket.on("error", (e) => resolve(`error:${e.message}`));
            socket.on("close", () => resolve("closed"));
            socket.write(Buffer.from([5, 1, 0]));
          }),
        (error: Error) => `error:${error.message}`,
      );
      expect(await attempt).toMatch(/error|closed/);
    }
    const failures = await relay.relay.metrics.registry.getSingleMetricAsString(
      "edgesocks_relay_tls_handshake_failures_total",
    );
    expect(failures).toContain("edgesocks_relay_tls_handshake_failures_total 3");
  });

  it("picks up a rotated certificate without a restart", async () => {
    await using target = await startHttpTarget("rotated");
    const first = pki.issue("rot-1", { cn: "first" });
    const certPath = join(dir, "live.pem");
    const keyPath = join(dir, "live.key");
    copyFileSync(first.cert, certPath);
    copyFileSync(first.key, keyPath);
    await using relay = await startTestRelay(
      `[server.tls]\nenabled = true\ncertificate_path = "${certPath}"\nprivate_key_path = "${keyPath}"\n`,
    );
    const ca = readFileSync(pki.caCert);
    const before = await openTls(relay.port, { ca });
    expect(before.getPeerCertificate().subject.CN).toBe("first");
    const second = pki.issue("rot-2", { cn: "second" });
    writeFileSync(keyPath, readFileSync(second.key));
    writeFileSync(certPath, readFileSync(second.cert));
    await expect
      .poll(
        async () => {
          const s = await openTls(relay.port, { ca });
          const cn = s.getPeerCertificate().subject.CN;
          s.destroy();
          return cn;
        },
        { timeout: 5000, interval: 100 },
      )
      .toBe("second");
    // The connection made before the rotation still works.
    expect(await socksOverTls(before, target.port)).toBe("rotated");
  });

  it("exports seconds until each certificate expires, and follows a rotation", async () => {
    const first = pki.issue("exp-1", { days: 2 });
    const certPath = join(dir, "expiring.pem");
    const keyPath = join(dir, "expiring.key");
    copyFileSync(first.cert, certPath);
    copyFileSync(first.key, keyPath);
    await using relay = await startTestRelay(
      `[server.tls]\nenabled = true\ncertificate_path = "${certPath}"\nprivate_key_path = "${keyPath}"\nrequire_client_auth = true\nclient_ca_path = "${pki.caCert}"\n`,
    );
    const expiry = async () => {
      const metric = await relay.relay.metrics.registry
        .getSingleMetric("edgesocks_relay_tls_certificate_expiry_seconds")!
        .get();
      return Object.fromEntries(
        metric.values.map((v) => [`${v.labels.certificate} ${v.labels.path}`, v.value]),
      );
    };
    const day = 86_400;
    const initial = await expiry();
    expect(Object.keys(initial).sort()).toEqual([`client_ca ${pki.caCert}`, `server ${certPath}`]);
    expect(initial[`server ${certPath}`]).toBeGreaterThan(2 * day - 600);
    expect(initial[`server ${certPath}`]).toBeLessThanOrEqual(2 * day);
    expect(initial[`client_ca ${pki.caCert}`]).toBeLessThanOrEqual(2 * day);

    const second = pki.issue("exp-2", { days: 30 });
    writeFileSync(keyPath, readFileSync(second.key));
    writeFileSync(certPath, readFileSync(second.cert));
    await expect
      .poll(async () => (await expiry())[`server ${certPath}`], { timeout: 5000, interval: 100 })
      .toBeGreaterThan(29 * day);
  });

  it("runs a TLS port beside the plain one, and curl reaches it through a stunnel client", async () => {
    await using target = await startHttpTarget("via stunnel");
    await using relay = await startTestRelay(tlsConfig(pki, "bind_port = 0"));
    const tlsPort = relay.relay.tlsAddress()!.port;
    expect(tlsPort).not.toBe(relay.port);
    expect(
      (await curlVia("--socks5", relay.proxy, `http://127.0.0.1:${target.port}/`)).stdout,
    ).toBe("via stunnel");

    const stunnelDir = mkdtempSync(join(tmpdir(), "edgesocks-stunnel-"));
    const acceptPort = 20000 + Math.floor(Math.random() * 10000);
    writeFileSync(
      join(stunnelDir, "client.conf"),
      `foreground = yes\npid =\n[socks-tls]\nclient = yes\naccept = 127.0.0.1:${acceptPort}\nconnect = 127.0.0.1:${tlsPort}\nCAfile = ${pki.caCert}\nverifyChain = yes\ncheckHost = localhost\n`,
    );
    const stunnel = spawn("stunnel4", [join(stunnelDir, "client.conf")], { stdio: "ignore" });
    try {
      await expect
        .poll(
          async () =>
            (
              await curlVia(
                "--socks5",
                `127.0.0.1:${acceptPort}`,
                `http://127.0.0.1:${target.port}/`,
              )
            ).stdout,
          {
            timeout: 10_000,
            interval: 200,
          },
        )
        .toBe("via stunnel");
      // The record comes when both sides have closed, a moment after curl exits.
      await expect
        .poll(() => relay.records.filter((r) => r.transport === "tls").length)
        .toBeGreaterThan(0);
    } finally {
      stunnel.kill();
    }
  });
});
