import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { HELP, parseCli } from "./cli";
import { readEnv } from "./env";

const bin = (name: string) => fileURLToPath(new URL(`../bin/${name}`, import.meta.url));

describe("parseCli", () => {
  it("defaults to serve and takes overrides", () => {
    expect(parseCli([])).toEqual({ command: "serve" });
    expect(parseCli(["migrate", "--database-url", "file:x.db"])).toEqual({
      command: "migrate",
      databaseUrl: "file:x.db",
    });
    expect(parseCli(["--port", "0", "--host", "::1"])).toEqual({
      command: "serve",
      port: 0,
      host: "::1",
    });
  });

  it("names the bad flag with CONTROL_E_CLI", () => {
    expect(() => parseCli(["--port", "99999"])).toThrow(/--port: "99999"/);
    expect(() => parseCli(["--nope"])).toThrow(expect.objectContaining({ code: "CONTROL_E_CLI" }));
    expect(() => parseCli(["launch"])).toThrow(/unknown command "launch"/);
  });

  it("documents every command, flag and environment variable in --help", () => {
    for (const word of [
      "serve",
      "migrate",
      "--host",
      "--port",
      "--database-url",
      "DATABASE_URL",
      "DATABASE_AUTH_TOKEN",
      "SESSION_RETENTION_DAYS",
      "EDGESOCKS_ADMIN_TOKEN_FILE",
      "EDGESOCKS_CORS_ORIGINS",
      "EDGESOCKS_ALLOWED_HOSTS",
      "EDGESOCKS_TRUSTED_PROXIES",
    ]) {
      expect(HELP).toContain(word);
    }
  });
});

describe("readEnv", () => {
  it("fills defaults and names the variable that is wrong", () => {
    const env = readEnv({});
    expect(env).toMatchObject({
      DATABASE_URL: "file:./data/control.db",
      PORT: 8080,
      HOST: "127.0.0.1",
      EDGESOCKS_ADMIN_TOKEN_FILE: "./data/admin-token",
      EDGESOCKS_MIGRATE_ON_START: true,
    });
    expect(env.SESSION_RETENTION_DAYS).toBeUndefined();
    expect(readEnv({ SESSION_RETENTION_DAYS: "30", PORT: "0" })).toMatchObject({
      SESSION_RETENTION_DAYS: 30,
      PORT: 0,
    });
    expect(() => readEnv({ PORT: "http" })).toThrow(/^PORT: /);
    expect(() => readEnv({ EDGESOCKS_ADMIN_TOKEN: "short" })).toThrow(
      expect.objectContaining({ code: "CONTROL_E_ENV" }),
    );
    expect(
      readEnv({
        EDGESOCKS_ALLOWED_HOSTS: "control.example.com, admin.example.com",
        EDGESOCKS_TRUSTED_PROXIES: "10.0.0.0/8,::1",
      }),
    ).toMatchObject({
      EDGESOCKS_ALLOWED_HOSTS: ["control.example.com", "admin.example.com"],
      EDGESOCKS_TRUSTED_PROXIES: ["10.0.0.0/8", "::1"],
    });
    expect(() => readEnv({ EDGESOCKS_TRUSTED_PROXIES: "10.0.0.0/8,proxy.local" })).toThrow(
      /^EDGESOCKS_TRUSTED_PROXIES: expected comma-separated IP addresses or CIDRs/,
    );
    expect(() => readEnv({ EDGESOCKS_TRUSTED_PROXIES: "10.0.0.0/33" })).toThrow(
      /^EDGESOCKS_TRUSTED_PROXIES: /,
    );
  });
});

describe("binaries", () => {
  it("edgesocks-control --help exits 0; a bad flag exits 2; edgesocksctl --help lists its commands", () => {
    const help = spawnSync(process.execPath, [bin("edgesocks-control.mjs"), "--help"], {
      encoding: "utf8",
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("edgesocks-control migrate");
    const bad = spawnSync(process.execPath, [bin("edgesocks-control.mjs"), "--port", "x"], {
      encoding: "utf8",
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--port/);
    const ctl = spawnSync(process.execPath, [bin("edgesocksctl.mjs"), "--help"], {
      encoding: "utf8",
    });
    expect(ctl.status).toBe(0);
    for (const command of [
      "users add",
      "rules add",
      "acl test",
      "nodes enroll",
      "nodes disable",
      "nodes remove",
      "snapshots rollback",
      "sessions list",
      "stats",
      "nearest",
    ]) {
      expect(ctl.stdout).toContain(command);
    }
  });
});
