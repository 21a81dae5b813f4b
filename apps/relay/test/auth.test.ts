import { hash } from "@node-rs/argon2";
import { describe, expect, it } from "vitest";
import { RawClient } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

async function relayWithUsers() {
  const passwordHash = await hash("correct horse");
  return startTestRelay(`
[auth]
socks_method = "userpass"
[[auth.users]]
username = "alice"
password_hash = "${passwordHash}"
[[auth.users]]
username = "carol"
password = "plain"
enabled = false
`);
}

describe("RFC 1929 username/password", () => {
  it("lets a user with the right argon2id password through with curl --proxy-user", async () => {
    await using target = await startHttpTarget("authed");
    await using relay = await relayWithUsers();
    const result = await curlVia("--socks5", relay.proxy, `http://127.0.0.1:${target.port}/`, [
      "--proxy-user",
      "alice:correct horse",
    ]);
    expect(result.stdout).toBe("authed");
    const [record] = await relay.waitForRecords(1);
    expect(record!.user).toBe("alice");
  });

  it("refuses a wrong password, an unknown user and a disabled user", async () => {
    await using target = await startHttpTarget("authed");
    await using relay = await relayWithUsers();
    for (const credentials of ["alice:wrong", "mallory:x", "carol:plain"]) {
      const result = await curlVia("--socks5", relay.proxy, `http://127.0.0.1:${target.port}/`, [
        "--proxy-user",
        credentials,
      ]);
      expect(result.code).not.toBe(0);
    }
    const records = await relay.waitForRecords(3);
    expect(records.every((r) => r.closeReason === "auth_failed" && r.status === "rejected")).toBe(
      true,
    );
  });

  it("answers a client offering only no-auth with 05 FF", async () => {
    await using relay = await relayWithUsers();
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0]);
    expect([...(await client.readToEnd())]).toEqual([5, 0xff]);
  });

  it("prefers the server's method: a client offering both gets username/password", async () => {
    await using relay = await relayWithUsers();
    using client = await RawClient.open(relay.port);
    client.write([5, 2, 0, 2]);
    expect([...(await client.read(2))]).toEqual([5, 2]);
  });

  it("never lets a SOCKS4 request through when a password is required", async () => {
    await using target = await startHttpTarget("nope");
    await using relay = await relayWithUsers();
    const result = await curlVia("--socks4", relay.proxy, `http://127.0.0.1:${target.port}/`);
    expect(result.code).not.toBe(0);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ protocol: "socks4", closeReason: "auth_required" });
  });

  it("slows down repeated failures from one client address", async () => {
    await using relay = await relayWithUsers();
    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      using client = await RawClient.open(relay.port);
      client.write([5, 1, 2]);
      await client.read(2);
      const started = performance.now();
      client.write([1, 5, ...Buffer.from("alice"), 3, ...Buffer.from("bad")]);
      expect([...(await client.read(2, 10_000))]).toEqual([1, 1]);
      timings.push(performance.now() - started);
    }
    // The first failures are answered at argon2 speed, later ones are held back.
    expect(timings[4]!).toBeGreaterThan(timings[0]! + 200);
    const metrics = await relay.relay.metrics.registry.getSingleMetricAsString(
      "edgesocks_relay_auth_total",
    );
    expect(metrics).toContain('method="userpass",result="failure"} 5');
  });
});
