import { missing } from "../args";
import type { Command } from "../command";
import { emit, table } from "../output";

export const aclCommands: Command[] = [
  {
    name: "acl test",
    summary: "decide one request with the relays' own ACL engine",
    details:
      "Prints the decision, the rule that decided it, and every rule of the user and its groups\nwith whether it matched. Exit code 0 for allow and block alike; use --json to script it.",
    flags: {
      user: { type: "string", value: "U", help: "username (required)" },
      dest: { type: "string", value: "HOST|IP", help: "destination as the client asks (required)" },
      port: { type: "string", value: "N", help: "destination port (required)" },
      address: {
        type: "string",
        value: "IP",
        help: "resolved address of a host name, so IP/CIDR rules can match",
      },
      proto: { type: "string", value: "tcp|udp", help: "protocol (default tcp)" },
      client: {
        type: "string",
        value: "IP",
        help: "the client's address, for rules with sources (default: none, they do not match)",
      },
      at: {
        type: "string",
        value: "ISO-TIME",
        help: "the instant schedules are evaluated at, e.g. 2030-01-02T09:00:00Z (default now)",
      },
      "client-country": {
        type: "string",
        value: "XX",
        help: "the client's country for country:XX sources (the control plane has no GeoIP)",
      },
      "dest-country": {
        type: "string",
        value: "XX",
        help: "the destination address's country for country:XX destinations",
      },
      version: {
        type: "string",
        value: "N",
        help: "test against this snapshot version (default newest)",
      },
    },
    examples: [
      "edgesocksctl acl test --user alice --dest api.dev.example.com --port 443",
      "edgesocksctl acl test --user alice --dest db.internal --address 10.1.2.3 --port 5432 --json",
      "edgesocksctl acl test --user alice --dest 10.1.2.3 --port 443 --client 10.20.0.7 --at 2030-01-02T09:00:00Z",
    ],
    async run({ api, args, json, out }) {
      const address = args.str("address");
      const version = args.int("version", { min: 1 });
      const client = args.str("client");
      const at = args.str("at");
      const clientCountry = args.str("client-country");
      const destinationCountry = args.str("dest-country");
      const result = await api.acl.test.query({
        user: args.required("user"),
        destination: args.required("dest"),
        port: args.int("port", { min: 0, max: 65535 }) ?? missing("port"),
        protocol: args.oneOf("proto", ["tcp", "udp"]) ?? "tcp",
        ...(address === undefined ? {} : { address }),
        ...(version === undefined ? {} : { version }),
        ...(client === undefined ? {} : { client }),
        ...(at === undefined ? {} : { at }),
        ...(clientCountry === undefined ? {} : { clientCountry }),
        ...(destinationCountry === undefined ? {} : { destinationCountry }),
      });
      emit(out, json, result, () => {
        const { decision } = result;
        // The reason names the deciding rule ("rule web (group developers)") or the default.
        const lines = [
          `${decision.action.toUpperCase()}  ${decision.reason}  [snapshot v${result.version}${at === undefined ? "" : ` at ${result.at}`}]`,
        ];
        if (!result.userKnown) lines.push(`note: user "${args.str("user")}" is not in the policy`);
        if (result.considered.length > 0) {
          lines.push(
            "",
            table(result.considered, [
              ["MATCHED", (c) => (c.matched ? "yes" : "no")],
              ["RULE", (c) => c.rule.id],
              ["OWNER", (c) => `${c.rule.owner.kind}:${c.rule.owner.name}`],
              ["ACTION", (c) => c.rule.action],
              ["PRIORITY", (c) => c.rule.priority],
              ["DESTINATIONS", (c) => c.rule.destinations],
              ["PORTS", (c) => c.rule.ports],
              ["SOURCES", (c) => c.rule.sources ?? "*"],
              ["SCHEDULE", (c) => (c.rule.schedule ? "yes" : "always")],
            ]),
          );
        }
        return lines.join("\n");
      });
    },
  },
];
