import { describe, expect, it } from "vitest";
import { sealSnapshot } from "../snapshot";
import { testSnapshot } from "../test-snapshot";
import { compileAcl } from "./compile";
import { countryFromRecord, parseCountryPattern, unmapIpv4 } from "./country";
import { parseDestination } from "./destination";
import { evaluate, explain } from "./evaluate";
import type { AclRequest } from "./types";

const alice = { kind: "user", name: "alice" } as const;
const GEO: Record<string, string> = { "192.0.2.1": "DE", "192.0.2.2": "FR", "198.51.100.1": "RU" };
const countryOf = (address: string) => GEO[unmapIpv4(address)] ?? null;

describe("country patterns", () => {
  it("parses country:XX in any case and refuses codes ISO 3166-1 lacks", () => {
    expect(parseCountryPattern("country:de")).toEqual({ ok: true, code: "DE" });
    expect(parseDestination("COUNTRY:Ru")).toEqual({
      ok: true,
      destination: { kind: "country", code: "RU" },
    });
    expect(parseDestination("country:XX")).toMatchObject({
      ok: false,
      error: '"country:XX": XX is not an ISO 3166-1 alpha-2 country code',
    });
    expect(parseDestination("country:DEU")).toMatchObject({ ok: false });
    expect(parseDestination("country:")).toMatchObject({ ok: false });
  });

  it("refuses an unknown code in a snapshot, naming the rule field", () => {
    const sealed = sealSnapshot({
      ...testSnapshot(),
      rules: [
        { id: "r", owner: alice, action: "block", destinations: ["country:ZZ"], ports: ["*"] },
      ],
      users: [{ username: "alice" }],
    });
    expect(sealed).toMatchObject({ ok: false });
    expect(!sealed.ok && sealed.error).toMatch(/rules\[0\]\.destinations\[0\].*ZZ is not an ISO/);
  });
});

describe("MMDB record shapes", () => {
  it("reads ip-location-db and GeoIP2 records alike", () => {
    expect(countryFromRecord({ country_code: "DE" })).toBe("DE");
    expect(countryFromRecord({ country: { iso_code: "FR", names: { en: "France" } } })).toBe("FR");
    expect(countryFromRecord({ registered_country: { iso_code: "US" } })).toBe("US");
    expect(countryFromRecord({ country_code: "ZZ" })).toBeNull();
    expect(countryFromRecord({ city: "x" })).toBeNull();
    expect(countryFromRecord(null)).toBeNull();
  });

  it("strips ::ffff: from IPv4-mapped addresses only", () => {
    expect(unmapIpv4("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(unmapIpv4("::FFFF:192.0.2.1")).toBe("192.0.2.1");
    expect(unmapIpv4("::ffff:c000:201")).toBe("::ffff:c000:201");
    expect(unmapIpv4("2001:db8::1")).toBe("2001:db8::1");
  });
});

describe("evaluate with countries", () => {
  const acl = compileAcl(
    testSnapshot({
      users: [{ username: "alice" }],
      rules: [
        { id: "no-ru", owner: alice, action: "block", destinations: ["country:RU"] },
        { id: "eu", owner: alice, destinations: ["country:DE", "country:FR"], ports: ["443"] },
        {
          id: "from-de",
          owner: alice,
          destinations: ["192.0.2.2"],
          ports: ["22"],
          sources: ["country:DE", "10.0.0.0/8"],
        },
      ],
    }),
  );
  const req = (o: Partial<AclRequest>): AclRequest => ({
    user: "alice",
    host: "example.com",
    port: 443,
    protocol: "tcp",
    countryOf,
    ...o,
  });
  const decide = (o: Partial<AclRequest>) => evaluate(acl, req(o)).ruleId;

  it("matches the destination's resolved address, never the name alone", () => {
    expect(decide({ host: "192.0.2.1" })).toBe("eu");
    expect(decide({ host: "::ffff:192.0.2.2" })).toBe("eu");
    expect(decide({ host: "x.test", address: "192.0.2.1" })).toBe("eu");
    expect(decide({ host: "x.test" })).toBeNull();
    expect(decide({ host: "x.test", address: "198.51.100.1" })).toBe("no-ru");
    expect(decide({ host: "203.0.113.9" })).toBeNull();
    expect(decide({ host: "192.0.2.1", port: 80 })).toBeNull();
    // No lookup: country rules match nothing.
    expect(decide({ host: "192.0.2.1", countryOf: undefined })).toBeNull();
  });

  it("matches sources by client country or CIDR", () => {
    expect(decide({ host: "192.0.2.2", port: 22, client: "192.0.2.1" })).toBe("from-de");
    expect(decide({ host: "192.0.2.2", port: 22, client: "10.1.2.3" })).toBe("from-de");
    expect(decide({ host: "192.0.2.2", port: 22, client: "198.51.100.1" })).toBeNull();
    expect(decide({ host: "192.0.2.2", port: 22 })).toBeNull();
  });

  it("names the countries its rules use, and explain() agrees with evaluate()", () => {
    expect([...acl.countries].sort()).toEqual(["DE", "FR", "RU"]);
    const r = req({ host: "x.test", address: "198.51.100.1" });
    const { decision, considered } = explain(acl, r);
    expect(decision.ruleId).toBe("no-ru");
    expect(considered.filter((c) => c.matched).map((c) => c.rule.id)).toEqual(["no-ru"]);
  });
});

describe("evaluate with schedules", () => {
  const acl = compileAcl(
    testSnapshot({
      users: [{ username: "alice" }],
      rules: [
        {
          id: "office",
          owner: alice,
          schedule: { days: ["mon-fri"], times: ["09:00-17:00"], timezone: "Europe/Berlin" },
          closeAtWindowEnd: true,
        },
      ],
    }),
  );
  const decide = (now: string) =>
    evaluate(acl, {
      user: "alice",
      host: "x.test",
      port: 1,
      protocol: "tcp",
      now: Date.parse(now),
    });

  it("matches only inside the window; windowEnd() says when the allowed session closes", () => {
    expect(decide("2025-06-02T07:00:00Z").ruleId).toBe("office"); // 09:00 CEST
    expect(decide("2025-06-02T06:59:59Z").ruleId).toBeNull();
    expect(decide("2025-06-02T15:00:00Z").ruleId).toBeNull();
    const allowed = decide("2025-06-02T10:00:00Z");
    expect(
      new Date(acl.windowEnd(allowed, Date.parse("2025-06-02T10:00:00Z"))!).toISOString(),
    ).toBe("2025-06-02T15:00:00.000Z");
    expect(acl.windowEnd(acl.defaultDecision, 0)).toBeNull();
  });

  it("refuses close_at_window_end without a schedule, and a bad zone", () => {
    const draft = (rule: object) =>
      sealSnapshot({
        ...testSnapshot(),
        users: [{ username: "alice" }],
        rules: [
          { id: "r", owner: alice, action: "allow", destinations: ["*"], ports: ["*"], ...rule },
        ],
      });
    const noSchedule = draft({ closeAtWindowEnd: true });
    expect(!noSchedule.ok && noSchedule.error).toMatch(/closeAtWindowEnd: needs a schedule/);
    const badZone = draft({ schedule: { timezone: "Europe/Nowhere" } });
    expect(!badZone.ok && badZone.error).toMatch(
      /schedule\.timezone: "Europe\/Nowhere" is not an IANA/,
    );
  });
});
