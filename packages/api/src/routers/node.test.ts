import { describe, expect, it } from "vitest";
import { appRouter } from "../router";
import { nodeRouter } from "./node";

/** The paths relays of every version call: renaming one breaks a mixed-version fleet. */
const RELAY_PROTOCOL = {
  "nodes.exchange": "mutation",
  "nodes.heartbeat": "mutation",
  "nodes.commands": "subscription",
  "config.watch": "subscription",
  "config.ack": "mutation",
  "sessions.ingest": "mutation",
} as const;

describe("the node router", () => {
  it("keeps the relay protocol's paths and kinds", () => {
    const procedures = appRouter._def.procedures as unknown as Record<
      string,
      { _def: { type: string } }
    >;
    for (const [path, type] of Object.entries(RELAY_PROTOCOL)) {
      expect(procedures[path]?._def.type, path).toBe(type);
    }
  });

  it("holds every relay procedure and nothing else", () => {
    const paths = Object.entries(nodeRouter).flatMap(([group, sub]) =>
      Object.keys(sub._def.procedures).map((name) => `${group}.${name}`),
    );
    expect(paths.sort()).toEqual(Object.keys(RELAY_PROTOCOL).sort());
  });
});
