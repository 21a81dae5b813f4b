import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second for /proc/PID/stat times (USER_HZ; 100 on Linux). */
const TICKS_PER_SEC = 100;

interface StatLine {
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  cpuTicks: number;
}

function readStat(pid: number): StatLine | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const at = (field: number) => Number(fields[field - 3]);
  return { ppid: at(4), cpuTicks: at(14) + at(15) + at(16) + at(17) };
}

/** Every live descendant of `root` (children, grandchildren, ...). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const found: number[] = [];
  const queue = [root];
  for (let i = 0; i < queue.length && i < 100000; i++) {
    for (const child of children.get(queue[i]!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * CPU seconds used by a process tree so far: every live member's user and
 * system time plus what its reaped children used (cutime/cstime), so
 * processes that come and go (Dante's children) are still counted.
 */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of [root, ...descendants(root)]) ticks += readStat(pid)?.cpuTicks ?? 0;
  return ticks / TICKS_PER_SEC;
}

export interface TreeMemory {
  /** Sum of VmRSS over the tree, KiB. */
  rssKiB: number;
  /** Sum of Pss over the tree (shared pages split between sharers), KiB. */
  pssKiB: number;
  processes: number;
}

function statusField(pid: number, field: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function pss(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident memory of a process and its descendants. */
export function treeMemory(root: number): TreeMemory {
  const pids = [root, ...descendants(root)];
  let rssKiB = 0;
  let pssKiB = 0;
  for (const pid of pids) {
    rssKiB += statusField(pid, "VmRSS");
    pssKiB += pss(pid);
  }
  return { rssKiB, pssKiB, processes: pids.length };
}

/**
 * CPU seconds the whole machine has spent running processes (all cores;
 * /proc/stat user, nice, system and steal). Interrupt and softirq time is left
 * out: on loopback much of TCP runs there and is charged to no process.
 */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + steal) / TICKS_PER_SEC;
}
