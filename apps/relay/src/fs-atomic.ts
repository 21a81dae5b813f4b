import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";

/** Writes `data` to `path` so a reader sees the old file or the new one, never half: temp file, fsync, rename. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
