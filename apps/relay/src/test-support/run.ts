import { execFile } from "node:child_process";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a real client program (curl, python3) and collects its output; never throws on exit codes. */
export function run(file: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** curl through a SOCKS proxy: `--socks5`, `--socks5-hostname`, `--socks4` or `--socks4a`. */
export function curlVia(
  flag: "--socks5" | "--socks5-hostname" | "--socks4" | "--socks4a",
  proxy: string,
  url: string,
  extra: string[] = [],
): Promise<RunResult> {
  return run("curl", ["-sS", "--max-time", "10", flag, proxy, ...extra, url]);
}

/**
 * Debian's python3 with python3-socks (PySocks). The machine's default
 * python3 may be another build without it, so use the system one.
 */
export const SYSTEM_PYTHON = "/usr/bin/python3";
