// A relay whose subscriptions are refused (here: its node disabled for a while) subscribes again
// once it may: it ends SYNCED on the newest version and obeys terminate commands. Real
// edgesocks-control and edgesocks-relay processes on loopback, curl as the SOCKS client.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AdminApi,
  adminApi,
  type Control,
  curlThrough,
  type Relay,
  startAdminControl,
  startAdminRelay,
  startTarget,
  type Target,
} from "./support/admin-stack";
import { waitFor } from "./support/processes";

const NODE = "relay-recovers";

let dir: string;
let control: Control;
let relay: Relay | undefined;
let target: Target;
let api: AdminApi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgesocks-recovery-e2e-"));
  control = await startAdminControl(dir);
  api = adminApi(control.url, control.adminToken);
  target = await startTarget();
}, 60_000);

afterAll(async () => {
  await relay?.process.stop();
  await control?.process.stop();
  await target?.close();
  rmSync(dir, { recursive: true, force: true });
});

const newestVersion = async () => (await api.snapshots.list.query({ limit: 1 })).items[0]!.version;

const synced = (version: number) =>
  waitFor(
    `${NODE} SYNCED on version ${version}`,
    async () => {
      const node = await api.nodes.get.query({ name: NODE });
      return node.configStatus === "SYNCED" && node.appliedVersion === version ? true : undefined;
    },
    45_000,
    200,
  );

describe("relay recovery after refused subscriptions", () => {
  it("re-subscribes after its node is disabled and enabled: newest version applied, terminate works", async () => {
    const { enrollmentToken } = await api.nodes.enroll.mutate({ name: NODE, region: "local" });
    relay = await startAdminRelay({
      dir,
      controlPort: control.port,
      token: enrollmentToken,
      name: NODE,
      region: "local",
    });
    await synced(await newestVersion());

    // Force the failure: every call and (re)subscription of the relay is refused for a while,
    // and a policy version is published meanwhile.
    await api.nodes.disable.mutate({ name: NODE });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const { version } = await api.users.create.mutate({ username: "made-while-disabled" });
    expect((await api.nodes.get.query({ name: NODE })).appliedVersion).toBeLessThan(version);
    await api.nodes.enable.mutate({ name: NODE });
    await synced(version);

    // nodes.commands came back too: a terminate reaches the relay and closes the client.
    const slow = curlThrough({
      proxy: `socks5h://127.0.0.1:${relay.socksPort}`,
      url: `http://127.0.0.1:${target.port}/slow`,
      maxTimeSec: 60,
    });
    try {
      const session = await waitFor(
        "the slow session among active sessions",
        async () => (await api.sessions.active.query({ node: NODE })).items[0],
        20_000,
        200,
      );
      await api.sessions.terminate.mutate({ id: session.id, node: NODE });
      const ended = await Promise.race([
        slow.done,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
      ]);
      expect(ended, "the client's connection was not closed").not.toBeNull();
      expect(ended!.code).not.toBe(0);
    } finally {
      slow.child.kill();
    }
  }, 120_000);
});
