import { describe, expect, it } from "vitest";
import { configStatus, type NodeSyncFields } from "./node-status";

const blank: NodeSyncFields = {
  sentVersion: null,
  sentEpoch: null,
  appliedVersion: null,
  appliedEpoch: null,
  rejectedVersion: null,
  rejectedEpoch: null,
  rejectionReason: null,
};
const newest = { version: 7, epoch: "e" };

describe("configStatus", () => {
  it("follows send, ack and reject", () => {
    expect(configStatus(blank, newest).status).toBe("NOT SENT");
    const sent = { ...blank, sentVersion: 7, sentEpoch: "e", appliedVersion: 6, appliedEpoch: "e" };
    expect(configStatus(sent, newest).status).toBe("STALE");
    expect(configStatus({ ...sent, appliedVersion: 7 }, newest).status).toBe("SYNCED");
    const rejected = { ...sent, rejectedVersion: 7, rejectedEpoch: "e", rejectionReason: "bad" };
    expect(configStatus(rejected, newest)).toEqual({ status: "ERROR", reason: "bad" });
    // A newer version was published but not sent yet: the rejection still stands.
    expect(configStatus(rejected, { version: 8, epoch: "e" }).status).toBe("ERROR");
    // Applied in another epoch (a restored database) is not synced.
    expect(configStatus({ ...sent, appliedVersion: 7, appliedEpoch: "old" }, newest).status).toBe(
      "STALE",
    );
  });
});

describe("configStatus of a node that cannot run its auth method", () => {
  const synced = { ...blank, sentVersion: 7, sentEpoch: "e", appliedVersion: 7, appliedEpoch: "e" };

  it("is ERROR with the relay's reason, though the version is applied", () => {
    expect(configStatus({ ...synced, authProblem: "no PAM service file" }, newest)).toEqual({
      status: "ERROR",
      reason: "authentication unavailable: no PAM service file",
    });
  });

  it("is what the versions say once the relay reports no problem (or never reported one)", () => {
    expect(configStatus({ ...synced, authProblem: null }, newest).status).toBe("SYNCED");
    expect(configStatus(synced, newest).status).toBe("SYNCED");
  });
});
