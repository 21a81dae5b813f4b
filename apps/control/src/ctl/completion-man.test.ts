import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runCtl } from "../test-support/ctl";
import { COMMANDS } from "./commands/index";

const MAN_FILE = new URL("../../../../docs/man/edgesocksctl.1", import.meta.url);

/** What bash completes for the words typed so far (the last one being completed). */
function bashComplete(script: string, words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(" ");
  const out = execFileSync(
    "bash",
    [
      "-c",
      `${script}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _edgesocksctl; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: "utf8" },
  );
  return out.split("\n").filter(Boolean);
}

/** What the zsh function offers, with compadd/_describe recording instead of drawing. */
function zshComplete(script: string, words: string[]): string {
  const array = words.map((w) => `'${w}'`).join(" ");
  return execFileSync(
    "zsh",
    [
      "-c",
      `compdef(){}; compadd(){ print -r -- "$*"; }; _describe(){ print -r -- "\${(P)2}"; }
${script}
words=(${array}); CURRENT=${words.length}; _edgesocksctl`,
    ],
    { encoding: "utf8" },
  );
}

describe("edgesocksctl completion and man page, from the --help command table", () => {
  it("completes commands, actions and each command's flags in bash", async () => {
    const { stdout: script, code } = await runCtl(["completion", "bash"]);
    expect(code).toBe(0);
    expect(bashComplete(script, ["edgesocksctl", "--url", "http://x", "pol"])).toEqual(["policy"]);
    expect(bashComplete(script, ["edgesocksctl", "tokens", ""])).toEqual([
      "list",
      "create",
      "revoke",
      "roles",
    ]);
    expect(bashComplete(script, ["edgesocksctl", "policy", "import", "f.toml", "--d"])).toEqual([
      "--dry-run",
    ]);
    const firsts = bashComplete(script, ["edgesocksctl", ""]);
    for (const c of COMMANDS) expect(firsts).toContain(c.name.split(" ")[0]);
    for (const c of COMMANDS) {
      const flags = bashComplete(script, ["edgesocksctl", ...c.name.split(" "), "--"]);
      for (const flag of Object.keys(c.flags ?? {})) expect(flags, c.name).toContain(`--${flag}`);
    }
  });

  it("completes with descriptions in zsh", async () => {
    const { stdout: script } = await runCtl(["completion", "zsh"]);
    expect(spawnSync("zsh", ["-n", "-c", script]).status).toBe(0);
    expect(zshComplete(script, ["edgesocksctl", "settings", ""])).toBe(
      "show:show the fleet's QoS, auth and ACL settings qos:change fleet-wide bandwidth shaping and connection limits (one snapshot version) auth:change the SOCKS authentication methods and the anonymous user acl:turn the ACL on or off and set its default policy\n",
    );
    expect(zshComplete(script, ["edgesocksctl", "audit", "list", "--"])).toBe(
      "-- --actor --action --limit --cursor --json --help --url --token\n",
    );
  });

  it("writes a man page with every command and flag; docs/man/edgesocksctl.1 is up to date", async () => {
    const { stdout: page } = await runCtl(["man"]);
    expect(page).toBe(readFileSync(MAN_FILE, "utf8"));
    const lint = spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z"], { input: page });
    expect(lint.stderr.toString()).toBe("");
    const text = execFileSync("groff", ["-man", "-Tascii", "-P", "-cbou"], {
      input: page,
    }).toString();
    for (const c of COMMANDS) {
      expect(text).toContain(c.name);
      for (const flag of Object.keys(c.flags ?? {})) expect(text).toContain(`--${flag}`);
    }
    expect(text).toContain("EXIT STATUS");
  });

  it("-V / --version print the version; a bad SHELL is a usage error (exit 2)", async () => {
    const [short, long, fish] = await Promise.all([
      runCtl(["-V"]),
      runCtl(["--version"]),
      runCtl(["completion", "fish"]),
    ]);
    expect(short.stdout).toMatch(/^edgesocksctl \d+\.\d+\.\d+\n$/);
    expect(long.stdout).toBe(short.stdout);
    expect(fish).toMatchObject({
      code: 2,
      stdout: "",
      stderr: 'edgesocksctl: SHELL: expected bash | zsh, got "fish"\n',
    });
  });
});
