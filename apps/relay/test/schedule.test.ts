import { describe, expect, it } from "vitest";
import { connectRequestV4, RawClient } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startEchoTarget, startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

/** `HH:MM:SS` of instant `ms` in UTC. */
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

describe("rule time windows", () => {
  it("allows inside the window and refuses once its end has passed", async () => {
    await using target = await startHttpTarget("in the window");
    // The window opened a minute ago and closes a few seconds from now (whole seconds, UTC).
    const end = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    await using relay = await startTestRelay(
      `
[acl]
enabled = true
config_file = "acl.toml"
`,
      `
[global]
default_policy = "block"
[[users]]
username = "anonymous"
[[users.rules]]
id = "office-hours"
action = "allow"
destinations = ["127.0.0.1"]
ports = ["*"]
schedule = { times = ["${clock(end - 60_000)}-${clock(end)}"], timezone = "UTC" }
`,
    );
    const url = `http://127.0.0.1:${target.port}/`;
    const before = await curlVia("--socks5", relay.proxy, url);
    expect(before.stdout).toBe("in the window");

    await new Promise((r) => setTimeout(r, end - Date.now() + 200));
    const after = await curlVia("--socks5", relay.proxy, url);
    expect(after.code).toBe(97);
    expect(after.stderr).toMatch(/\(2\)/); // SOCKS5 reply 2: not allowed by ruleset
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => r.ruleId)).toEqual(["office-hours", null]);
  });

  it("closes a session at its window's end when the rule says close_at_window_end", async () => {
    await using target = await startEchoTarget();
    const end = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    await using relay = await startTestRelay(
      `
[acl]
enabled = true
config_file = "acl.toml"
`,
      `
[global]
default_policy = "block"
[[users]]
username = "anonymous"
[[users.rules]]
id = "closing"
action = "allow"
destinations = ["127.0.0.1"]
ports = ["*"]
schedule = { times = ["${clock(end - 60_000)}-${clock(end)}"] }
close_at_window_end = true
`,
    );
    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0]);
    expect([...(await client.read(2))]).toEqual([5, 0]);
    client.write(connectRequestV4("127.0.0.1", target.port));
    expect((await client.read(10))[1]).toBe(0);
    client.write("ping");
    expect((await client.read(4)).toString()).toBe("ping");
    await client.closed(end - Date.now() + 3000);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ ruleId: "closing", closeReason: "schedule" });
  });
});
