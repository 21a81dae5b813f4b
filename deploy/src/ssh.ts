import { spawn } from "node:child_process";
import { DeployError } from "./errors";
import type { HostPlan, Inventory } from "./inventory";

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** Runs a local program with a hard timeout; never throws on a non-zero exit. */
export function runCommand(
  file: string,
  args: string[],
  options: { stdin?: string | Buffer; timeoutMs: number },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${options.timeoutMs} ms)`;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new DeployError("DEPLOY_E_SSH", `${file}: ${error.message}`, { cause: error }));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => {}); // The remote side may close stdin early.
    child.stdin.end(options.stdin ?? "");
  });
}

/**
 * One host reached over the ssh and scp command-line clients (BatchMode: keys
 * only, no prompts). With `controlDir`, calls share one multiplexed connection
 * (ControlMaster), as Ansible does: a dozen steps per host cost one handshake.
 */
export class SshHost {
  readonly #inventory: Inventory;
  readonly #host: HostPlan;
  readonly #controlDir: string | undefined;

  constructor(inventory: Inventory, host: HostPlan, options: { controlDir?: string } = {}) {
    this.#inventory = inventory;
    this.#host = host;
    this.#controlDir = options.controlDir;
  }

  /** Ends the shared connection (no-op without one). */
  async close(): Promise<void> {
    if (!this.#controlDir) return;
    await runCommand(
      "ssh",
      [...this.#common(), "-O", "exit", "-p", String(this.#host.sshPort), this.#destination()],
      { timeoutMs: 5_000 },
    ).catch(() => undefined);
  }

  get label(): string {
    return `${this.#host.name} (${this.#host.ssh})`;
  }

  #common(): string[] {
    const ssh = this.#inventory.ssh;
    return [
      "-o",
      "BatchMode=yes",
      "-o",
      `ConnectTimeout=${ssh.connectTimeoutSecs}`,
      "-o",
      "ServerAliveInterval=5",
      "-o",
      "ServerAliveCountMax=3",
      ...(ssh.identityFile ? ["-i", ssh.identityFile] : []),
      ...(this.#controlDir
        ? [
            "-o",
            "ControlMaster=auto",
            "-o",
            `ControlPath=${this.#controlDir}/%C`,
            "-o",
            "ControlPersist=60",
          ]
        : []),
      ...ssh.options,
    ];
  }

  #destination(): string {
    const user = this.#inventory.ssh.user;
    return user && !this.#host.ssh.includes("@") ? `${user}@${this.#host.ssh}` : this.#host.ssh;
  }

  /** Runs `words` (quoted) on the host; throws DEPLOY_E_SSH on a non-zero exit. */
  async run(
    words: string[],
    options: { stdin?: string | Buffer; timeoutMs?: number } = {},
  ): Promise<string> {
    const result = await this.tryRun(words, options);
    if (result.code !== 0) {
      throw new DeployError(
        "DEPLOY_E_SSH",
        `${this.label}: \`${words.join(" ")}\` exited ${result.code}: ${lastLines(result.stderr || result.stdout)}`,
      );
    }
    return result.stdout;
  }

  tryRun(
    words: string[],
    options: { stdin?: string | Buffer; timeoutMs?: number } = {},
  ): Promise<CommandResult> {
    return runCommand(
      "ssh",
      [
        ...this.#common(),
        "-p",
        String(this.#host.sshPort),
        this.#destination(),
        "--",
        words.map(shellQuote).join(" "),
      ],
      {
        timeoutMs: options.timeoutMs ?? this.#inventory.ssh.commandTimeoutSecs * 1000,
        ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      },
    );
  }

  /** Copies a local file to `remotePath` with scp. */
  async upload(localPath: string, remotePath: string): Promise<void> {
    const destination = this.#destination();
    const target =
      destination.includes(":") && !destination.startsWith("[") ? `[${destination}]` : destination;
    const result = await runCommand(
      "scp",
      [
        ...this.#common(),
        "-q",
        "-P",
        String(this.#host.sshPort),
        localPath,
        `${target}:${remotePath}`,
      ],
      { timeoutMs: this.#inventory.ssh.commandTimeoutSecs * 1000 },
    );
    if (result.code !== 0) {
      throw new DeployError(
        "DEPLOY_E_SSH",
        `${this.label}: scp to ${remotePath} failed: ${lastLines(result.stderr)}`,
      );
    }
  }
}

export function lastLines(text: string, count = 5): string {
  return text.trim().split("\n").slice(-count).join(" | ");
}

/** Parses the `key=value` lines host.sh prints. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}
