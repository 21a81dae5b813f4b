/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile`, or any
 * `node --cpu-prof` run): self time by function and by where the code lives
 * (our files, each npm package, Node internals, GC, idle).
 *   tsx bench/profile-summary.ts bench/results/profiles/edgesocks.cpuprofile [--top 25]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function parseProfile(text: string): CpuProfile {
  const value = JSON.parse(text) as Partial<CpuProfile>;
  if (
    !Array.isArray(value.nodes) ||
    !Array.isArray(value.samples) ||
    !Array.isArray(value.timeDeltas)
  ) {
    throw new Error("not a .cpuprofile: expected nodes, samples and timeDeltas");
  }
  return value as CpuProfile;
}

/** Where a frame's code lives: a package, one of our files, Node itself, or a V8 pseudo-frame. */
function placeOf(url: string, name: string): string {
  if (url === "") return name.startsWith("(") ? name : "(native)";
  if (url.startsWith("node:")) return "node internals";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/(apps\/[^?]+|packages\/[^?]+)/.exec(url);
  return ours ? ours[1]! : url;
}

export function summarise(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)");
  const idleUs = idle.reduce((a, [, us]) => a + us, 0);
  const busy = total - idleUs;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === "(idle)") continue;
    const place = placeOf(frame.url, frame.functionName);
    const key = `${frame.functionName || "(anonymous)"}  ${place}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  }
  // Inclusive time of our own functions (apps/, packages/): each sample counts once per function on its stack.
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const inclusive = new Map<string, number>();
  profile.samples.forEach((leaf, i) => {
    const seen = new Set<string>();
    for (
      let id: number | undefined = leaf, depth = 0;
      id !== undefined && depth < 500;
      id = parent.get(id), depth++
    ) {
      const frame = byId.get(id)!.callFrame;
      const place = placeOf(frame.url, frame.functionName);
      if (!place.startsWith("apps/") && !place.startsWith("packages/")) continue;
      seen.add(`${frame.functionName || "(anonymous)"}  ${place}:${frame.lineNumber + 1}`);
    }
    for (const key of seen)
      inclusive.set(key, (inclusive.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const list = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => `${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  return [
    `wall ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${((busy / total) * 100).toFixed(0)}%), idle ${(idleUs / 1e6).toFixed(1)} s; percentages are of busy time`,
    "",
    "self time by place:",
    ...list(byPlace),
    "",
    "self time by function:",
    ...list(byFunction),
    "",
    "inclusive time of our functions (apps/, packages/):",
    ...list(inclusive),
  ].join("\n");
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" } },
});
if (positionals.length === 0) {
  process.stderr.write("usage: tsx bench/profile-summary.ts FILE.cpuprofile [--top N]\n");
  process.exit(2);
}
for (const file of positionals) {
  process.stdout.write(
    `== ${file}\n${summarise(parseProfile(readFileSync(file, "utf8")), Number(values.top))}\n\n`,
  );
}
