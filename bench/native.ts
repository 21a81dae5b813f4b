import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./processes";

const SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), "loadgen");

export interface NativeTools {
  loadgen: string;
  target: string;
  /** False when OpenSSL headers were missing: the TLS runs are skipped. */
  tls: boolean;
  dir: string;
}

async function compile(
  output: string,
  source: string,
  extra: readonly string[],
): Promise<string | null> {
  const result = await runCommand(
    "cc",
    ["-O2", "-Wall", "-o", output, join(SOURCE_DIR, source), ...extra],
    { timeoutMs: 120000 },
  );
  return result.code === 0 ? null : result.stderr.trim();
}

/** Compiles bench/loadgen/*.c with `cc -O2` into a fresh temp directory. */
export async function buildNative(
  log: (line: string) => void,
  install: boolean,
): Promise<NativeTools> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-bench-bin-"));
  const target = join(dir, "target");
  const loadgen = join(dir, "loadgen");
  const targetError = await compile(target, "target.c", []);
  if (targetError)
    throw new Error(`cc target.c failed (is a C compiler installed?):\n${targetError}`);

  if (!existsSync("/usr/include/openssl/ssl.h") && install) {
    log("installing libssl-dev (OpenSSL headers for the TLS load generator)");
    await runCommand("apt-get", ["install", "-y", "--no-install-recommends", "libssl-dev"], {
      timeoutMs: 300000,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  }
  let tls = true;
  let loadgenError = await compile(loadgen, "loadgen.c", ["-lssl", "-lcrypto"]);
  if (loadgenError) {
    log(
      `building the load generator without TLS (OpenSSL unavailable): ${loadgenError.split("\n")[0]}`,
    );
    tls = false;
    loadgenError = await compile(loadgen, "loadgen.c", ["-DLOADGEN_NO_TLS"]);
    if (loadgenError) throw new Error(`cc loadgen.c failed:\n${loadgenError}`);
  }
  return { loadgen, target, tls, dir };
}
