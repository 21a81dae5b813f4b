import { chownSync, lstatSync, readdirSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { RelayError } from "./errors";

/** Who the relay runs as after binding its listeners. */
export interface Identity {
  uid: number;
  gid: number;
  user: string;
  group: string;
}

export interface PrivilegeOptions {
  /** `--user`: a name or a numeric uid. */
  user?: string | undefined;
  /** `--group`: a name or a numeric gid; defaults to the user's name as a group. */
  group?: string | undefined;
  /** `--allow-root`: keep running as root when no `--user` is given. */
  allowRoot?: boolean | undefined;
}

/** What to do once the listeners are bound. */
export type PrivilegePlan =
  | { kind: "keep"; reason: "not-root" | "same-user" }
  | { kind: "root"; warning: string }
  | { kind: "drop"; to: Identity };

const asId = (text: string): string | number => (/^\d+$/.test(text) ? Number(text) : text);

/**
 * Decides, before anything is bound, whether and to whom privileges will be
 * dropped: names are resolved now (by briefly switching the effective ids,
 * which root can undo) so a typo exits with code 2 and nothing started.
 */
export function planPrivileges(options: PrivilegeOptions): PrivilegePlan {
  const uid = process.getuid?.();
  if (uid === undefined) return { kind: "keep", reason: "not-root" }; // Windows
  if (options.user === undefined && options.group !== undefined) {
    throw new RelayError("RELAY_E_PRIVILEGES", "--group needs --user (the user to switch to)");
  }
  if (uid !== 0) {
    if (options.user === undefined) return { kind: "keep", reason: "not-root" };
    const me = userInfo();
    if (options.user === me.username || options.user === String(uid)) {
      return { kind: "keep", reason: "same-user" };
    }
    throw new RelayError(
      "RELAY_E_PRIVILEGES",
      `--user ${options.user}: switching users needs root, and the relay runs as uid ${uid}`,
    );
  }
  if (options.user === undefined) {
    if (!options.allowRoot) {
      throw new RelayError(
        "RELAY_E_PRIVILEGES",
        "refusing to run as root: pass --user USER [--group GROUP] to drop privileges after binding, or --allow-root",
      );
    }
    return {
      kind: "root",
      warning:
        "running as root (--allow-root): a compromise of the relay is a compromise of the host",
    };
  }
  const group = options.group ?? options.user;
  const targetUid = resolveId(
    "--user",
    options.user,
    (id) => process.seteuid!(id),
    () => process.geteuid!(),
  );
  const gid = resolveId(
    "--group",
    group,
    (id) => process.setegid!(id),
    () => process.getegid!(),
  );
  if (targetUid === 0) {
    throw new RelayError(
      "RELAY_E_PRIVILEGES",
      `--user ${options.user}: that is root; name an unprivileged user`,
    );
  }
  return { kind: "drop", to: { uid: targetUid, gid, user: options.user, group } };
}

/** Switches the effective id to `name` and back (root only) to learn its number. */
function resolveId(
  flag: string,
  name: string,
  setEffective: (id: string | number) => void,
  getEffective: () => number,
): number {
  try {
    setEffective(asId(name));
    return getEffective();
  } catch (cause) {
    throw new RelayError(
      "RELAY_E_PRIVILEGES",
      `${flag} ${name}: no such ${flag.slice(2)} on this host`,
      { cause },
    );
  } finally {
    setEffective(0);
  }
}

/**
 * Gives `paths` (recursively) to the target identity, then drops supplementary
 * groups, gid and uid, in that order (setuid last: after it nothing else can
 * be changed). Verifies that root cannot be regained.
 */
export function dropPrivileges(to: Identity, ownedPaths: string[] = []): void {
  try {
    for (const path of ownedPaths) chownTree(path, to.uid, to.gid);
    process.setgroups!([to.gid]);
    process.setgid!(to.gid);
    process.setuid!(to.uid);
  } catch (cause) {
    throw new RelayError(
      "RELAY_E_PRIVILEGES",
      `cannot switch to ${to.user}:${to.group} (${(cause as Error).message})`,
      { cause },
    );
  }
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    // Expected: the switch is permanent.
  }
  if (regained || process.getuid!() === 0 || process.geteuid!() === 0) {
    throw new RelayError(
      "RELAY_E_PRIVILEGES",
      "privilege drop did not stick: still able to become root",
    );
  }
}

/** chown -R without following symlinks (a link in the state dir must not hand out other files). */
function chownTree(path: string, uid: number, gid: number): void {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat || stat.isSymbolicLink()) return;
  chownSync(path, uid, gid);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
  }
}
