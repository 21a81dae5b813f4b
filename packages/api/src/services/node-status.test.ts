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
