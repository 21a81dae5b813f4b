import { describe, expect, it } from "vitest";
import { checkJournal, readJournal } from "./migrate";

// Guards drizzle issue 5769: the migrator skips a migration older than the newest applied one.
describe("drizzle/meta/_journal.json", () => {
  it("has strictly increasing timestamps", () => {
    const entries = readJournal();
    expect(entries.length).toBeGreaterThan(0);
    expect(checkJournal(entries)).toBeNull();
    entries.forEach((entry, i) => {
      expect(entry.idx).toBe(i);
    });
  });

  it("reports an entry that is not newer than the one before", () => {
    const problem = checkJournal([
      { idx: 0, when: 2000, tag: "0000_a" },
      { idx: 1, when: 1000, tag: "0001_b" },
    ]);
    expect(problem).toMatch(/0001_b .* is not newer than 0000_a/);
  });
});
