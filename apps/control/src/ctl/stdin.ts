import { CtlError } from "./args";

/** How long `--password-stdin` waits for its input, in ms. */
const STDIN_TIMEOUT_MS = 30_000;

/** Reads stdin to its end (a secret piped in), without the trailing newline. */
export async function readSecretFromStdin(flag: string): Promise<string> {
  if (process.stdin.isTTY) {
    throw new CtlError(`--${flag}: stdin is a terminal; pipe the secret in (printf %s "$PW" | …)`);
  }
  const chunks: Buffer[] = [];
  const read = (async () => {
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CtlError(`--${flag}: nothing on stdin within ${STDIN_TIMEOUT_MS} ms`)),
      STDIN_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
  const secret = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (secret === "") throw new CtlError(`--${flag}: stdin was empty`);
  return secret;
}
