import { describe, expect, it } from "vitest";
import { parseConfigText } from "./load";

const user = (quota: string) =>
  `[auth]\nsocks_method = "userpass"\n[[auth.users]]\nusername = "a"\npassword = "a"\nquota = ${quota}\n`;

describe("quota configuration", () => {
  it("fills direction total, on_exhaust close and the UTC time zone", () => {
    const { config } = parseConfigText(user(`{ bytes = 1000, period = "day" }`));
    expect(config.auth.users[0]!.quota).toEqual({
      bytes: 1000,
      period: "day",
      direction: "total",
      on_exhaust: "close",
    });
    expect(config.auth.quota_timezone).toBe("UTC");
  });

  it.each([
    [
      user(`{ bytes = 1000, period = "day", on_exhaust = "throttle" }`),
      "auth.users[0].quota.throttle_bytes_per_sec",
      /needs throttle_bytes_per_sec/,
    ],
    [
      user(`{ bytes = 1000, period = "day", throttle_bytes_per_sec = 5 }`),
      "auth.users[0].quota.throttle_bytes_per_sec",
      /needs on_exhaust = "throttle"/,
    ],
    [
      user(`{ bytes = 1000, period = "fortnight" }`),
      "auth.users[0].quota.period",
      /day.*week.*month/,
    ],
    [user(`{ bytes = 0, period = "day" }`), "auth.users[0].quota.bytes", /./],
    [
      user(`{ bytes = 1000, period = "day", limit = 3 }`),
      "auth.users[0].quota.limit",
      /unknown key/,
    ],
    [
      `[auth]\nquota_timezone = "Mars/Olympus"\n`,
      "auth.quota_timezone",
      /unknown time zone "Mars\/Olympus"/,
    ],
    [
      `[[auth.groups]]\nname = "g"\nquota = { period = "day" }\n`,
      "auth.groups[0].quota.bytes",
      /./,
    ],
  ])("refuses an ambiguous or unknown setting, naming it: %j", (toml, key, problem) => {
    expect(() => parseConfigText(toml)).toThrow(
      expect.objectContaining({ code: "RELAY_E_CONFIG" }),
    );
    let message = "";
    try {
      parseConfigText(toml);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(key);
    expect(message).toMatch(problem);
  });
});
