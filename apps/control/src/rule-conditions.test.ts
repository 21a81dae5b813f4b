import type { AppRouter } from "@edgesocks/api";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "./test-support/control";

async function failure(promise: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

const appCode = (error: TRPCClientError<AppRouter>) =>
  (error.data as { appCode?: string } | undefined)?.appCode ?? null;

const OFFICE = { days: ["mon-fri"], times: ["09:00-17:00"], timezone: "Europe/Berlin" };
// Wednesday 2030-01-02: 10:00 and 18:00 in Berlin (UTC+1); Saturday 2030-01-05 10:00.
const WEDNESDAY_10 = "2030-01-02T09:00:00Z";
const WEDNESDAY_18 = "2030-01-02T17:00:00Z";
const SATURDAY_10 = "2030-01-05T09:00:00Z";

let control: TestControl;
beforeAll(async () => {
  control = await startTestControl();
  await control.admin.acl.updateSettings.mutate({ defaultPolicy: "block" });
  await control.admin.users.create.mutate({ username: "erin" });
});
afterAll(async () => {
  await control.close();
});

describe("rule sources, schedules and close-at-window-end through the API", () => {
  it("stores them, lists them and compiles them into the snapshot", async () => {
    const created = await control.admin.rules.create.mutate({
      id: "office",
      owner: { kind: "user", name: "erin" },
      action: "allow",
      description: "from the office desk, in office hours",
      destinations: ["*"],
      ports: ["*"],
      sources: ["127.0.0.2", "10.20.0.0/16", "country:de"],
      schedule: OFFICE,
      closeAtWindowEnd: true,
    });
    expect(created.rule).toMatchObject({
      sources: ["127.0.0.2", "10.20.0.0/16", "country:de"],
      schedule: OFFICE,
      closeAtWindowEnd: true,
    });
    const [listed] = await control.admin.rules.list.query({
      owner: { kind: "user", name: "erin" },
    });
    expect(listed).toEqual(created.rule);
    const { snapshot } = await control.admin.snapshots.get.query({ version: created.version });
    expect(snapshot.rules.find((r) => r.id === "office")).toMatchObject({
      sources: ["127.0.0.2", "10.20.0.0/16", "country:de"],
      schedule: OFFICE,
      closeAtWindowEnd: true,
    });
  });

  it("a patch keeps the fields it does not name, and null clears a condition", async () => {
    // Regression: a patch with only `position` (the rules page's reorder) used to reset the
    // description, protocols, priority and, with them, would have dropped the sources.
    await control.admin.rules.update.mutate({ id: "office", patch: { position: 0 } });
    const kept = await control.admin.rules.get.query({ id: "office" });
    expect(kept).toMatchObject({
      description: "from the office desk, in office hours",
      sources: ["127.0.0.2", "10.20.0.0/16", "country:de"],
      schedule: OFFICE,
      closeAtWindowEnd: true,
    });
    const cleared = await control.admin.rules.update.mutate({
      id: "office",
      patch: { sources: ["127.0.0.2"], closeAtWindowEnd: false },
    });
    expect(cleared.rule).toMatchObject({ sources: ["127.0.0.2"], closeAtWindowEnd: false });
    const always = await control.admin.rules.update.mutate({
      id: "office",
      patch: { schedule: null },
    });
    expect(always.rule.schedule).toBeNull();
    const { snapshot } = await control.admin.snapshots.get.query({ version: always.version });
    const rule = snapshot.rules.find((r) => r.id === "office")!;
    expect(rule.schedule).toBeUndefined();
    expect(rule.closeAtWindowEnd).toBeUndefined();
    await control.admin.rules.update.mutate({
      id: "office",
      patch: { schedule: OFFICE, closeAtWindowEnd: true },
    });
  });

  it("refuses a country that ISO 3166-1 lacks, a bad window and a close without a schedule", async () => {
    const before = (await control.admin.snapshots.get.query({})).version;
    const base = {
      owner: { kind: "user" as const, name: "erin" },
      action: "allow" as const,
      destinations: ["*"],
      ports: ["*"],
    };

    const source = await failure(
      control.admin.rules.create.mutate({ ...base, sources: ["country:XX"] }),
    );
    expect(appCode(source)).toBe("API_E_BAD_INPUT");
    expect(source.message).toContain("XX is not an ISO 3166-1 alpha-2 country code");

    const destination = await failure(
      control.admin.rules.create.mutate({ ...base, destinations: ["country:QQ"] }),
    );
    expect(appCode(destination)).toBe("API_E_POLICY_INVALID");
    expect(destination.message).toContain("QQ is not an ISO 3166-1 alpha-2 country code");

    const window = await failure(
      control.admin.rules.create.mutate({
        ...base,
        schedule: { days: ["mon-fri"], times: ["09:00-25:00"], timezone: "Mars/Olympus" },
      }),
    );
    expect(appCode(window)).toBe("API_E_BAD_INPUT");
    expect(window.message).toContain('"09:00-25:00" is not a time window');

    const zone = await failure(
      control.admin.rules.create.mutate({ ...base, schedule: { timezone: "Mars/Olympus" } }),
    );
    expect(zone.message).toContain('"Mars/Olympus" is not an IANA time zone');

    const close = await failure(
      control.admin.rules.create.mutate({ ...base, id: "no-window", closeAtWindowEnd: true }),
    );
    expect(appCode(close)).toBe("API_E_POLICY_INVALID");
    expect(close.message).toMatch(
      /rules\[\d+\] \(id "no-window"\)\.closeAtWindowEnd: needs a schedule/,
    );

    expect((await control.admin.snapshots.get.query({})).version).toBe(before);
  });

  it("acl.test decides source- and schedule-dependent rules for a given client and time", async () => {
    const ask = (client: string | undefined, at: string) =>
      control.admin.acl.test.query({
        user: "erin",
        destination: "127.0.0.1",
        port: 80,
        ...(client === undefined ? {} : { client }),
        at,
      });
    const inside = await ask("127.0.0.2", WEDNESDAY_10);
    expect(inside).toMatchObject({
      at: "2030-01-02T09:00:00.000Z",
      decision: { action: "allow", ruleId: "office" },
    });
    expect(inside.rule).toMatchObject({ sources: ["127.0.0.2"], schedule: OFFICE });
    expect(inside.considered).toEqual([expect.objectContaining({ matched: true })]);

    const otherClient = await ask("127.0.0.3", WEDNESDAY_10);
    expect(otherClient.decision).toMatchObject({ action: "block", ruleId: null });
    expect(otherClient.considered).toEqual([expect.objectContaining({ matched: false })]);
    expect((await ask(undefined, WEDNESDAY_10)).decision.action).toBe("block");
    expect((await ask("127.0.0.2", WEDNESDAY_18)).decision.action).toBe("block");
    expect((await ask("127.0.0.2", SATURDAY_10)).decision.action).toBe("block");
    // The IPv4-mapped form of the listed client is the same client.
    expect((await ask("::ffff:127.0.0.2", WEDNESDAY_10)).decision.action).toBe("allow");
  });

  it("acl.test takes the client's country from the caller (the control plane has no GeoIP)", async () => {
    await control.admin.rules.create.mutate({
      id: "from-germany",
      owner: { kind: "user", name: "erin" },
      action: "allow",
      destinations: ["*"],
      ports: ["443"],
      sources: ["country:DE"],
    });
    const ask = (clientCountry?: string) =>
      control.admin.acl.test.query({
        user: "erin",
        destination: "127.0.0.1",
        port: 443,
        client: "127.0.0.9",
        at: SATURDAY_10,
        ...(clientCountry === undefined ? {} : { clientCountry }),
      });
    expect((await ask("de")).decision).toMatchObject({ action: "allow", ruleId: "from-germany" });
    expect((await ask("FR")).decision.action).toBe("block");
    expect((await ask()).decision.action).toBe("block");
    const bad = await failure(ask("XX"));
    expect(appCode(bad)).toBe("API_E_BAD_INPUT");
    expect(bad.message).toContain("not an ISO 3166-1 alpha-2 country code");
    const badClient = await failure(
      control.admin.acl.test.query({ user: "erin", destination: "x", port: 1, client: "nope" }),
    );
    expect(appCode(badClient)).toBe("API_E_BAD_INPUT");
  });

  it("policy.import carries them, and export gives them back", async () => {
    const exported = await control.admin.policy.export.query();
    const office = exported.rules.find((r) => r.id === "office")!;
    expect(office).toMatchObject({ sources: ["127.0.0.2"], schedule: OFFICE });
    const { version } = await control.admin.policy.import.mutate({
      users: exported.users.map(({ hasPassword: _h, ...u }) => u),
      groups: exported.groups,
      rules: exported.rules,
      acl: exported.acl,
    });
    expect(version).not.toBeNull();
    expect((await control.admin.policy.export.query()).rules).toEqual(exported.rules);
    const unknown = await failure(
      control.admin.policy.import.mutate({
        users: [],
        groups: [],
        rules: [{ ...office, source: ["127.0.0.2"] } as typeof office],
      }),
    );
    expect(appCode(unknown)).toBe("API_E_BAD_INPUT");
  });
});
