import { TARGET_PORT_BASE, TargetPort } from "./topology";

/**
 * A realistic acl.toml (RustSocks format) with `ruleCount` rules: department
 * groups full of egress allow-lists and block-lists (CIDRs, wildcard domains,
 * IPv6 prefixes, port ranges, blocked protocols such as SMTP anywhere), plus
 * per-user rules. The users the bench connects as ("anonymous" without auth,
 * "bench" with it) sit in five of the groups, so every decision walks a few
 * hundred candidate rules before the one allow rule for the bench targets
 * (127.0.0.0/8, the target ports) decides. No block rule matches a target:
 * they name other networks, or ports the targets do not use.
 */
export interface AclRuleSet {
  toml: string;
  ruleCount: number;
  /** Rules that apply to the bench users (their own and their groups'). */
  rulesForBenchUsers: number;
}

interface Rule {
  action: "allow" | "block";
  description: string;
  destinations: string[];
  ports: string[];
  protocols: ("tcp" | "udp" | "both")[];
  priority: number;
  route?: string;
}

const BENCH_USERS = ["anonymous", "bench"];
const BENCH_GROUPS = ["all-staff", "engineering", "web-egress", "contractors-eu", "bench-clients"];
// biome-ignore format: a list of names
const OTHER_GROUPS = [
  "sales", "finance", "support", "marketing", "legal", "hr", "ops", "sre", "security", "data",
  "design", "qa", "mobile", "partners", "interns", "executives", "it", "facilities", "research",
  "contractors-us",
];
const RULES_PER_GROUP = 32;
/** Ports no block rule may cover, so that nothing blocks the targets. */
const BLOCKED_SERVICES = ["25", "23", "445", "135-139", "6660-6669", "3389", "1900"];

// biome-ignore format: one rule per line reads as a table
function ruleAt(i: number): Rule {
  const a = (i * 37) % 256;
  const b = (i * 101) % 256;
  const priority = 10 + ((i * 53) % 190);
  switch (i % 10) {
    case 0:
      return { action: "block", description: `quarantined subnet ${i}`, destinations: [`10.${a}.${b}.0/24`], ports: ["*"], protocols: ["both"], priority };
    case 1:
      return { action: "block", description: `tracker ${i}`, destinations: [`*.tracker${i}.example.net`, `tracker${i}.example.net`], ports: ["80,443"], protocols: ["tcp"], priority };
    case 2:
      return { action: "block", description: `legacy service ports ${i}`, destinations: ["*"], ports: [BLOCKED_SERVICES[i % BLOCKED_SERVICES.length]!], protocols: ["tcp"], priority };
    case 3:
      return { action: "allow", description: `intranet ${i}`, destinations: [`*.corp${i}.example.com`], ports: ["443"], protocols: ["tcp"], priority };
    case 4:
      return { action: "allow", description: `lab network ${i}`, destinations: [`172.${16 + (a % 16)}.${b}.0/24`], ports: ["22,80,443", "8080-8090"], protocols: ["tcp"], priority };
    case 5:
      return { action: "allow", description: `partner API ${i}`, destinations: [`api${i}.partner.example.org`], ports: ["443"], protocols: ["tcp"], priority };
    case 6:
      return { action: "allow", description: `IPv6 site ${i}`, destinations: [`2001:db8:${i.toString(16)}::/48`], ports: ["*"], protocols: ["both"], priority };
    case 7:
      return { action: "block", description: `abuse source ${i}`, destinations: [`198.51.100.${i % 256}`, `203.0.113.${(i * 7) % 256}`], ports: ["*"], protocols: ["both"], priority };
    case 8:
      return { action: "allow", description: `media relay ${i}`, destinations: [`198.18.${a}.0/24`], ports: ["1024-65535"], protocols: ["udp"], priority };
    default:
      return { action: "block", description: `ad network ${i}`, destinations: [`*.ads${i}.example`, `ads.*.example${i}.com`], ports: ["*"], protocols: ["both"], priority };
  }
}

function renderRule(table: string, rule: Rule): string {
  const list = (items: string[]) => `[${items.map((item) => JSON.stringify(item)).join(", ")}]`;
  return [
    `[[${table}.rules]]`,
    `action = "${rule.action}"`,
    `description = ${JSON.stringify(rule.description)}`,
    `destinations = ${list(rule.destinations)}`,
    `ports = ${list(rule.ports)}`,
    `protocols = ${list(rule.protocols)}`,
    `priority = ${rule.priority}`,
    ...(rule.route ? [`route = "${rule.route}"`] : []),
    "",
  ].join("\n");
}

/** `parent`: route the targets' allow rule through this SOCKS5 parent (route "parent"). */
export function generateAclRules(
  ruleCount = 1000,
  parent?: { host: string; port: number },
): AclRuleSet {
  const groups = [...BENCH_GROUPS, ...OTHER_GROUPS];
  const targetsAllow: Rule = {
    action: "allow",
    description: "bench targets",
    destinations: ["127.0.0.0/8"],
    ports: [`${TARGET_PORT_BASE}-${TargetPort.source}`],
    protocols: ["tcp"],
    priority: 10,
    ...(parent ? { route: "parent" } : {}),
  };
  const groupRuleTotal = groups.length * RULES_PER_GROUP;
  const userNames = [...BENCH_USERS];
  for (let n = 1; userNames.length * 4 < ruleCount - groupRuleTotal; n++) {
    userNames.push(`user${String(n).padStart(3, "0")}`);
  }
  const out: string[] = ['[global]\ndefault_policy = "block"\n'];
  if (parent) {
    out.push(
      `[[routes]]\nname = "parent"\nresolve = "local"\n[[routes.chains]]\nhops = [{ type = "socks5", host = "${parent.host}", port = ${parent.port} }]\n`,
    );
  }
  let next = 0;
  let written = 0;
  let ownBench = 0;
  const take = (): Rule => ruleAt(next++);

  for (const [index, name] of userNames.entries()) {
    const memberOf = BENCH_USERS.includes(name)
      ? BENCH_GROUPS
      : [
          OTHER_GROUPS[index % OTHER_GROUPS.length]!,
          OTHER_GROUPS[(index * 7) % OTHER_GROUPS.length]!,
        ];
    out.push(`[[users]]\nusername = "${name}"\ngroups = ${JSON.stringify(memberOf)}\n`);
    const own = Math.min(4, ruleCount - groupRuleTotal - written);
    for (let r = 0; r < own; r++) {
      out.push(renderRule("users", take()));
      written++;
      if (name === BENCH_USERS[0]) ownBench++;
    }
  }
  for (const name of groups) {
    out.push(`[[groups]]\nname = "${name}"\n`);
    for (let r = 0; r < RULES_PER_GROUP; r++) {
      const rule = name === "bench-clients" && r === RULES_PER_GROUP - 1 ? targetsAllow : take();
      out.push(renderRule("groups", rule));
      written++;
    }
  }
  return {
    toml: out.join("\n"),
    ruleCount: written,
    rulesForBenchUsers: ownBench + BENCH_GROUPS.length * RULES_PER_GROUP,
  };
}
