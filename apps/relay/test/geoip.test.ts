import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeCountryMmdb } from "../src/test-support/mmdb-fixture";
import { curlVia } from "../src/test-support/run";
import { startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

// 127.0.0.2 is in Germany and 127.0.0.3 in France, as far as the test's database says.
const dir = mkdtempSync(join(tmpdir(), "edgesocks-geoip-"));
const database = join(dir, "country.mmdb");
writeCountryMmdb(database, { "127.0.0.2/32": "DE", "127.0.0.3/32": "FR" }, dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (path = database) => `
[acl]
enabled = true
config_file = "acl.toml"
[geoip]
database_path = ${JSON.stringify(path)}
`;

const acl = (rules: string) => `
[global]
default_policy = "block"
[[users]]
username = "anonymous"
${rules}
`;

/** SOCKS5 reply 2: connection not allowed by ruleset (curl prints it in parentheses). */
const REFUSED_BY_RULESET = /\(2\)/;

async function targets() {
  const de = await startHttpTarget("from DE", "127.0.0.2");
  const fr = await startHttpTarget("from FR", "127.0.0.3");
  return {
    de,
    fr,
    [Symbol.asyncDispose]: async () => {
      await de.close();
      await fr.close();
    },
  };
}

describe("GeoIP country rules", () => {
  it("blocks a destination country and lets another through", async () => {
    await using t = await targets();
    await using relay = await startTestRelay(
      config(),
      acl(`
[[users.rules]]
id = "no-france"
action = "block"
destinations = ["country:FR"]
ports = ["*"]
[[users.rules]]
action = "allow"
destinations = ["*"]
ports = ["*"]
`),
    );
    const allowed = await curlVia("--socks5", relay.proxy, `http://127.0.0.2:${t.de.port}/`);
    expect(allowed.stdout).toBe("from DE");
    const blocked = await curlVia("--socks5", relay.proxy, `http://127.0.0.3:${t.fr.port}/`);
    expect(blocked.code).toBe(97);
    expect(blocked.stderr).toMatch(REFUSED_BY_RULESET);
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => r.ruleId)).toContain("no-france");
    // The record names the destination's country; the client (127.0.0.1) has none: absent.
    const byCountry = records.map((r) => [r.destinationAddress, r.destinationCountry]);
    expect(byCountry).toEqual(
      expect.arrayContaining([
        ["127.0.0.2", "DE"],
        ["127.0.0.3", "FR"],
      ]),
    );
    expect(records.every((r) => !("clientCountry" in r))).toBe(true);
    // Metrics label by the countries the policy names (FR); Germany is one of the "other".
    const metrics = await relay.relay.metrics.registry.metrics();
    expect(metrics).toContain(
      'edgesocks_relay_country_decisions_total{action="block",country="FR"} 1',
    );
    expect(metrics).toContain(
      'edgesocks_relay_country_decisions_total{action="allow",country="other"} 1',
    );
  });

  it("decides on the client's country, and follows a replaced database", async () => {
    await using t = await targets();
    const path = join(dir, "replaced.mmdb");
    writeCountryMmdb(path, { "127.0.0.2/32": "DE", "127.0.0.3/32": "FR" }, dir);
    await using relay = await startTestRelay(
      config(path),
      acl(`
[[users.rules]]
action = "allow"
sources = ["country:DE"]
destinations = ["*"]
ports = ["*"]
`),
    );
    const from = (client: string) =>
      curlVia("--socks5", relay.proxy, `http://127.0.0.2:${t.de.port}/`, ["--interface", client]);
    expect((await from("127.0.0.2")).stdout).toBe("from DE");
    const french = await from("127.0.0.3");
    expect(french.code).toBe(97);
    expect(french.stderr).toMatch(REFUSED_BY_RULESET);
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => [r.clientCountry, r.destinationCountry, r.status])).toEqual(
      expect.arrayContaining([
        ["DE", "DE", "closed"],
        ["FR", "DE", "rejected"],
      ]),
    );

    // Replaced by rename (as a database updater does): 127.0.0.3 is now in Germany too.
    const next = join(dir, "next.mmdb");
    writeCountryMmdb(next, { "127.0.0.2/31": "DE" }, dir);
    renameSync(next, path);
    await expect
      .poll(async () => (await from("127.0.0.3")).stdout, { timeout: 5000 })
      .toBe("from DE");

    // A corrupt replacement is refused: the database in use stays.
    writeFileSync(next, "not an mmdb");
    renameSync(next, path);
    await new Promise((r) => setTimeout(r, 500));
    expect((await from("127.0.0.3")).stdout).toBe("from DE");
  });

  it("refuses to start with country rules and a missing or corrupt database, naming the file", async () => {
    const rules = acl(`
[[users.rules]]
action = "block"
destinations = ["country:FR"]
ports = ["*"]
`);
    const missing = join(dir, "missing.mmdb");
    await expect(startTestRelay(config(missing), rules)).rejects.toMatchObject({
      code: "RELAY_E_SNAPSHOT",
      message: expect.stringContaining(
        `rules name countries (FR) but geoip.database_path: cannot read ${missing}`,
      ),
    });
    const corrupt = join(dir, "corrupt.mmdb");
    writeFileSync(corrupt, "garbage, not a database");
    await expect(startTestRelay(config(corrupt), rules)).rejects.toMatchObject({
      message: expect.stringContaining(`${corrupt} is not an MMDB database`),
    });
  });

  it("starts without a database when no rule names a country", async () => {
    await using relay = await startTestRelay(config(join(dir, "missing.mmdb")), acl(""));
    expect(relay.relay.policy.loaded).toBe(true);
  });
});
