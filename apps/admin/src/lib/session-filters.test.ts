import { describe, expect, it } from "vitest";
import type { ActiveSession } from "./api-types";
import {
  DEFAULT_HISTORY_FILTERS,
  distinct,
  filterActiveSessions,
  filtersFromParams,
  filtersToParams,
  historyInput,
  parseByteSize,
} from "./session-filters";

const NOW = Date.parse("2030-01-02T03:04:05.000Z");

describe("history filters", () => {
  it("default filters map to the last 24 hours, newest first", () => {
    const result = historyInput(DEFAULT_HISTORY_FILTERS, NOW);
    expect(result).toEqual({
      ok: true,
      input: {
        from: "2030-01-01T03:04:05.000Z",
        sort: { field: "startedAt", direction: "desc" },
      },
    });
  });

  it("maps every filter to the sessions.history input", () => {
    const result = historyInput(
      {
        ...DEFAULT_HISTORY_FILTERS,
        user: " alice ",
        node: "n1",
        region: "eu",
        destination: "10.0.0.0/8",
        status: ["rejected"],
        decision: "block",
        command: "connect",
        window: "all",
        minBytes: "10k",
        sort: "bytes",
        direction: "asc",
      },
      NOW,
    );
    expect(result).toEqual({
      ok: true,
      input: {
        user: "alice",
        node: "n1",
        region: "eu",
        destination: "10.0.0.0/8",
        status: ["rejected"],
        decision: "block",
        command: "connect",
        minBytes: 10240,
        sort: { field: "bytes", direction: "asc" },
      },
    });
  });

  it("reports bad fields instead of sending the query", () => {
    const result = historyInput(
      {
        ...DEFAULT_HISTORY_FILTERS,
        destination: "10.0.0.0/99",
        minBytes: "lots",
        window: "custom",
        from: "2030-01-02T10:00",
        to: "2030-01-02T09:00",
      },
      NOW,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.destination).toContain("prefix");
    expect(result.errors.minBytes).toContain("not a size");
    expect(result.errors.to).toBe("must be after the start");
  });

  it("a custom window sends both ends as ISO times", () => {
    const result = historyInput(
      { ...DEFAULT_HISTORY_FILTERS, window: "custom", from: "2030-01-01T00:00Z", to: "" },
      NOW,
    );
    expect(result.ok && result.input.from).toBe("2030-01-01T00:00:00.000Z");
    expect(result.ok && result.input.to).toBeUndefined();
  });

  it("sends a destination country in capitals and refuses what is not two letters", () => {
    const now = Date.parse("2030-01-02T00:00:00Z");
    const ok = historyInput({ ...DEFAULT_HISTORY_FILTERS, country: " de " }, now);
    expect(ok.ok && ok.input.country).toBe("DE");
    const bad = historyInput({ ...DEFAULT_HISTORY_FILTERS, country: "Germany" }, now);
    expect(!bad.ok && bad.errors.country).toContain("ISO 3166-1 alpha-2");
    const params = filtersToParams({ ...DEFAULT_HISTORY_FILTERS, country: "DE" });
    expect(filtersFromParams(params).country).toBe("DE");
  });

  it("round-trips through URL parameters, leaving defaults out", () => {
    const filters = {
      ...DEFAULT_HISTORY_FILTERS,
      user: "bob",
      status: ["failed", "rejected"] as ("failed" | "rejected")[],
      window: "7d" as const,
    };
    const params = filtersToParams(filters);
    expect(params.toString()).toBe("user=bob&window=7d&status=failed&status=rejected");
    expect(filtersFromParams(params)).toEqual(filters);
    expect(filtersToParams(DEFAULT_HISTORY_FILTERS).toString()).toBe("");
  });

  it("ignores unknown values in the URL", () => {
    const filters = filtersFromParams(new URLSearchParams("sort=evil&status=bogus&window=1y"));
    expect(filters.sort).toBe("startedAt");
    expect(filters.status).toEqual([]);
    expect(filters.window).toBe("24h");
  });

  it.each([
    ["1500", 1500],
    ["10k", 10240],
    ["5 MiB", 5 * 1024 ** 2],
    ["1.5G", 1.5 * 1024 ** 3],
    ["", null],
    ["-1", null],
    ["10 parsecs", null],
  ])("parseByteSize(%j) = %j", (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });
});

function session(
  overrides: Partial<ActiveSession & { node: string; region: string }>,
): ActiveSession & { node: string; region: string } {
  return {
    id: "6b1f6a55-0000-4000-8000-000000000001",
    user: "alice",
    clientAddress: "127.0.0.1",
    clientPort: 50000,
    command: "connect",
    transport: "tcp",
    destinationHost: "example.com",
    destinationAddress: "93.184.216.34",
    destinationPort: 443,
    startedAt: "2030-01-01T00:00:00.000Z",
    bytesUp: 10,
    bytesDown: 20,
    node: "relay-eu-1",
    region: "eu-west",
    ...overrides,
  };
}

describe("live session filter", () => {
  const rows = [
    session({}),
    session({
      id: "6b1f6a55-0000-4000-8000-000000000002",
      user: "bob",
      destinationHost: "db.internal",
      destinationPort: 5432,
      node: "relay-us-1",
      region: "us-east",
    }),
  ];
  const none = { search: "", node: "", region: "", user: "" };

  it("free text matches user, destination, port and node; every term must match", () => {
    expect(filterActiveSessions(rows, { ...none, search: "BOB" }).map((r) => r.user)).toEqual([
      "bob",
    ]);
    expect(filterActiveSessions(rows, { ...none, search: ":5432" })).toHaveLength(1);
    expect(filterActiveSessions(rows, { ...none, search: "example relay-eu" })).toHaveLength(1);
    expect(filterActiveSessions(rows, { ...none, search: "example us-east" })).toHaveLength(0);
    expect(filterActiveSessions(rows, none)).toHaveLength(2);
  });

  it("exact filters by node, region and user", () => {
    expect(filterActiveSessions(rows, { ...none, region: "us-east" })[0]!.user).toBe("bob");
    expect(filterActiveSessions(rows, { ...none, node: "relay-eu-1", user: "bob" })).toEqual([]);
  });

  it("distinct lists the values for drop-downs", () => {
    expect(distinct(rows, (r) => r.region)).toEqual(["eu-west", "us-east"]);
  });
});
