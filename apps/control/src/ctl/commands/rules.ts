import { missing, UsageError } from "../args";
import type { Command, Inputs } from "../command";
import { emit, table } from "../output";

type Owner = Inputs["rules"]["create"]["owner"];

function ownerOf(text: string): Owner {
  const at = text.indexOf(":");
  const kind = text.slice(0, at);
  const name = text.slice(at + 1);
  if (at < 0 || (kind !== "user" && kind !== "group") || name === "") {
    throw new UsageError(`--owner: expected user:NAME or group:NAME, got "${text}"`);
  }
  return { kind, name };
}

const PROTOCOLS = ["tcp", "udp", "both"] as const;

type Schedule = NonNullable<Inputs["rules"]["create"]["schedule"]>;

/** The window of --days, --times and --timezone; undefined when none is given (always). */
function scheduleOf(
  days: string[] | undefined,
  times: string[] | undefined,
  timezone: string | undefined,
): Schedule | undefined {
  if (!days?.length && !times?.length && timezone === undefined) return undefined;
  return {
    ...(days?.length ? { days } : {}),
    ...(times?.length ? { times } : {}),
    ...(timezone === undefined ? {} : { timezone }),
  };
}

/** `mon-fri 09:00-17:00 Europe/Berlin, closes` or `always`. */
function scheduleText(schedule: Schedule | null, closes: boolean): string {
  if (schedule === null) return "always";
  const parts = [
    (schedule.days ?? ["every day"]).join(","),
    (schedule.times ?? ["all day"]).join(","),
    schedule.timezone ?? "UTC",
  ];
  return `${parts.join(" ")}${closes ? ", closes" : ""}`;
}

export const rulesCommands: Command[] = [
  {
    name: "rules add",
    summary: "add an ACL rule for a user or a group",
    details: `A matching block rule wins over any matching allow; among rules of one action, higher
priority first; nothing matches: the ACL's default policy. Destinations: an IPv4/IPv6 address,
a CIDR, an exact domain, *.domain, country:XX, or *. Ports: 443, 8000-9000, 80,443 or *.
--source limits the rule to clients (IP, CIDR or country:XX, the relay's GeoIP decides);
--days, --times and --timezone to a time window (mon-fri, 09:00-17:30, Europe/Berlin; a window
ending before it starts crosses midnight); outside it the rule does not match.`,
    flags: {
      owner: { type: "string", value: "user:NAME|group:NAME", help: "whose rule it is (required)" },
      action: { type: "string", value: "allow|block", help: "what a match does (required)" },
      dest: {
        type: "string",
        value: "D",
        multiple: true,
        help: "destination(s) the rule matches (required)",
      },
      port: { type: "string", value: "P", multiple: true, help: "port(s) (default *)" },
      proto: {
        type: "string",
        value: "tcp|udp|both",
        multiple: true,
        help: "protocol(s) (default both)",
      },
      priority: { type: "string", value: "N", help: "higher is considered first (default 0)" },
      description: { type: "string", value: "TEXT", help: "shown in rule lists and decisions" },
      id: { type: "string", value: "ID", help: "rule id (default: generated r-xxxxxxxx)" },
      position: { type: "string", value: "N", help: "index in the rule list (default: last)" },
      source: {
        type: "string",
        value: "S",
        multiple: true,
        help: "client IP, CIDR or country:XX the rule applies to (default every client)",
      },
      days: {
        type: "string",
        value: "D",
        multiple: true,
        help: "days of the window: mon..sun or ranges like mon-fri (default every day)",
      },
      times: {
        type: "string",
        value: "HH:MM-HH:MM",
        multiple: true,
        help: "time windows, start included, end excluded (default the whole day)",
      },
      timezone: {
        type: "string",
        value: "ZONE",
        help: "IANA time zone of --days and --times (default UTC)",
      },
      "close-at-window-end": {
        type: "boolean",
        help: "close the sessions the rule allowed when its window ends",
      },
    },
    examples: [
      "edgesocksctl rules add --owner group:developers --action allow --dest '*.dev.example.com,10.0.0.0/8' --port 443 --proto tcp --priority 50",
      "edgesocksctl rules add --owner user:alice --action block --dest '*.social.example' --id no-social --description 'not at work'",
      "edgesocksctl rules add --owner group:staff --action allow --dest '*' --source 10.20.0.0/16,country:DE --days mon-fri --times 08:00-18:00 --timezone Europe/Berlin --close-at-window-end",
    ],
    async run({ api, args, json, out }) {
      const destinations = args.list("dest");
      if (!destinations?.length) throw new UsageError("--dest is required");
      const protocols = args.listOf("proto", PROTOCOLS);
      const priority = args.int("priority", { min: -1_000_000, max: 1_000_000 });
      const position = args.int("position", { min: 0 });
      const id = args.str("id");
      const description = args.str("description");
      const sources = args.list("source");
      const schedule = scheduleOf(args.list("days"), args.list("times"), args.str("timezone"));
      const closeAtWindowEnd = args.bool("close-at-window-end");
      if (closeAtWindowEnd && schedule === undefined) {
        throw new UsageError(
          "--close-at-window-end needs a window: add --days, --times or --timezone",
        );
      }
      const input: Inputs["rules"]["create"] = {
        owner: ownerOf(args.required("owner")),
        action: args.oneOf("action", ["allow", "block"]) ?? missing("action"),
        destinations,
        ports: args.list("port") ?? ["*"],
        ...(protocols?.length ? { protocols } : {}),
        ...(priority === undefined ? {} : { priority }),
        ...(position === undefined ? {} : { position }),
        ...(id === undefined ? {} : { id }),
        ...(description === undefined ? {} : { description }),
        ...(sources?.length ? { sources } : {}),
        ...(schedule === undefined ? {} : { schedule }),
        ...(closeAtWindowEnd ? { closeAtWindowEnd } : {}),
      };
      const result = await api.rules.create.mutate(input);
      emit(out, json, result, () => `rule ${result.rule.id} created (snapshot v${result.version})`);
    },
  },
  {
    name: "rules list",
    summary: "list ACL rules in evaluation order",
    flags: {
      owner: { type: "string", value: "user:NAME|group:NAME", help: "only this owner's rules" },
    },
    examples: ["edgesocksctl rules list --owner group:developers"],
    async run({ api, args, json, out }) {
      const owner = args.str("owner");
      const rules = await api.rules.list.query(
        owner === undefined ? {} : { owner: ownerOf(owner) },
      );
      emit(out, json, rules, () =>
        table(rules, [
          ["ID", (r) => r.id],
          ["OWNER", (r) => `${r.owner.kind}:${r.owner.name}`],
          ["ACTION", (r) => r.action],
          ["PRIORITY", (r) => r.priority],
          ["DESTINATIONS", (r) => r.destinations],
          ["PORTS", (r) => r.ports],
          ["PROTOCOLS", (r) => r.protocols],
          ["DESCRIPTION", (r) => r.description],
          ["SOURCES", (r) => r.sources ?? "*"],
          ["SCHEDULE", (r) => scheduleText(r.schedule, r.closeAtWindowEnd)],
        ]),
      );
    },
  },
  {
    name: "rules delete",
    positionals: ["ID"],
    summary: "delete an ACL rule",
    examples: ["edgesocksctl rules delete no-social"],
    async run({ api, args, json, out }) {
      const id = args.positional(0);
      const result = await api.rules.delete.mutate({ id });
      emit(out, json, result, () => `rule ${id} deleted (snapshot v${result.version})`);
    },
  },
];
