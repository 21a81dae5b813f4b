import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "@edgesocks/telemetry";
import { describe, expect, it } from "vitest";
import { FleetAgent } from "../apps/relay/src/agent/fleet-agent";
import { createRelayMetrics } from "../apps/relay/src/metrics";
import { PolicyStore } from "../apps/relay/src/policy/policy-store";
import { Quarantine } from "../apps/relay/src/spool/quarantine";
import { Spool } from "../apps/relay/src/spool/spool";
import { startControl } from "./support/fleet";
import { waitFor } from "./support/processes";

describe("a snapshot in force is acknowledged as applied", () => {
  it("even when writing the snapshot cache fails: the node is SYNCED and the failure is logged as what it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-ack-"));
    const control = await startControl({
      name: "control-policy-ack",
      dbPath: join(dir, "control.db"),
      host: "127.0.0.1",
    });
    const stateDir = join(dir, "relay");
    // A directory where the cache file goes: the atomic rename fails (root or not).
    mkdirSync(join(stateDir, "snapshot.json"), { recursive: true });
    let logs = "";
    const store = new PolicyStore();
    const metrics = createRelayMetrics();
    try {
      const { enrollmentToken } = await control.api.nodes.enroll.mutate({
        name: "relay-ack",
        region: "eu-west",
      });
      const { nodeToken } = await control.api.nodes.exchange.mutate({
        enrollmentToken,
        softwareVersion: "test",
        publicAddress: null,
      });
      const agent = new FleetAgent({
        controlUrl: `${control.url}/trpc`,
        nodeToken,
        stateDir,
        store,
        sessions: { activeSessions: async () => [], terminate: () => false },
        spool: new Spool({ dir: join(dir, "spool") }),
        quarantine: new Quarantine({ path: join(dir, "quarantine.ndjson") }),
        metrics,
        logger: createLogger({
          destination: new Writable({
            write(chunk, _encoding, done) {
              logs += String(chunk);
              done();
            },
          }),
        }),
        softwareVersion: "test",
        publicAddress: null,
        counters: () => ({
          connectionsActive: 0,
          sessionsActive: 0,
          sessionsTotal: 0,
          bytesUp: 0,
          bytesDown: 0,
          rejectedTotal: 0,
          spoolBacklogBytes: 0,
          quarantinedRecords: 0,
        }),
      });
      agent.start();
      try {
        const { version } = await control.api.groups.create.mutate({ name: "after-start" });
        const node = await waitFor(
          "relay-ack SYNCED at the newest version",
          async () => {
            const got = await control.api.nodes.get.query({ name: "relay-ack" });
            return got.configStatus === "SYNCED" && got.appliedVersion === version
              ? got
              : undefined;
          },
          20_000,
          200,
        );
        expect(node.rejectionReason).toBeNull();
        expect(store.current.snapshot.version).toBe(version);
        expect(logs).toContain("carrying it out failed in part");
        expect(logs).toContain("snapshot cache write");
        expect(logs).not.toContain("does not compile");
        const reloads = await metrics.policyReloads.get();
        expect(reloads.values.find((v) => v.labels.result === "rejected")).toBeUndefined();
        expect(
          reloads.values.find((v) => v.labels.result === "applied_with_errors")?.value,
        ).toBeGreaterThan(0);
      } finally {
        await agent.close();
      }
    } finally {
      await control.process.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
