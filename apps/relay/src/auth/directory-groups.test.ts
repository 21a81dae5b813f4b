import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ChildPool } from "./child-pool";
import { DirectoryGroups } from "./directory-groups";

const dir = mkdtempSync(join(tmpdir(), "edgesocks-groups-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An `id` stand-in printing what a directory (AD through sssd, say) would answer. */
function fakeId(body: string): string {
  const path = join(dir, `id-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("DirectoryGroups", () => {
  it("splits id -Gnz on NUL, so a group named with spaces stays whole", async () => {
    const idPath = fakeId(
      `[ "$1 $2 $3" = "-Gnz -- alice" ] && printf 'alice\\0Domain Users\\0dev ops\\0'`,
    );
    const groups = new DirectoryGroups({ pool: new ChildPool(), idPath });
    expect(await groups.lookup("alice")).toEqual({
      ok: true,
      groups: ["alice", "Domain Users", "dev ops"],
    });
  });

  it("fails (never an empty list) when the user is unknown or the lookup hangs", async () => {
    const unknown = new DirectoryGroups({
      pool: new ChildPool(),
      idPath: fakeId("echo \"id: '$3': no such user\" >&2; exit 1"),
    });
    expect(await unknown.lookup("ghost")).toMatchObject({
      ok: false,
      reason: expect.stringContaining("no such user"),
    });
    const slow = new DirectoryGroups({
      pool: new ChildPool({ timeoutMs: 200 }),
      idPath: fakeId("sleep 5"),
    });
    expect(await slow.lookup("alice")).toEqual({ ok: false, reason: "group lookup timeout" });
  });

  it("remembers an answer for its TTL and refuses names that could pass for options", async () => {
    const counter = join(dir, "calls");
    const groups = new DirectoryGroups({
      pool: new ChildPool(),
      idPath: fakeId(`echo x >> ${counter}; printf 'staff\\0'`),
      ttlMs: 60_000,
    });
    await groups.lookup("bob");
    await groups.lookup("bob");
    expect(readFileSync(counter, "utf8")).toBe("x\n");
    expect(await groups.lookup("-x")).toMatchObject({ ok: false });
  });

  it("runs id with PATH, LANG and the configured environment only, never the relay's own", async () => {
    process.env.EDGESOCKS_TEST_SECRET = "must not leak";
    try {
      const groups = new DirectoryGroups({
        pool: new ChildPool({ env: { NSS_WRAPPER_MODULE_FN_PREFIX: "ldap", PATH: "/nowhere" } }),
        // One group per variable, so the whole environment comes back (PWD is the shell's own).
        idPath: fakeId("env | grep -v '^PWD=' | sort | tr '\\n' '\\0'"),
      });
      expect(await groups.lookup("alice")).toEqual({
        ok: true,
        groups: [
          "LANG=C",
          "NSS_WRAPPER_MODULE_FN_PREFIX=ldap",
          "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        ],
      });
    } finally {
      delete process.env.EDGESOCKS_TEST_SECRET;
    }
  });
});
