import type { Command, Outputs } from "../command";
import { emit, table } from "../output";

/** Where the printed relay command line expects the enrollment token. */
const ENROLLMENT_TOKEN_FILE = "/var/lib/edgesocks/enrollment-token";

/** `http://h:p` → `ws://h:p/trpc`, the URL a relay subscribes to. */
const wsUrl = (url: string) => `${url.replace(/^http/, "ws")}/trpc`;

export const nodesCommands: Command[] = [
  {
    name: "nodes enroll",
    positionals: ["NAME"],
    summary: "create a relay node and its one-time enrollment token",
    details:
      "The relay trades the token for its own node token on first start. With --replace an\nexisting node gets a new enrollment token and its current node token stops working.",
    flags: {
      region: {
        type: "string",
        value: "REGION",
        help: "the node's region, e.g. eu-west (required)",
      },
      replace: { type: "boolean", help: "re-enroll an existing node" },
      "expires-in-sec": {
        type: "string",
        value: "N",
        help: "enrollment token lifetime (default 86400)",
      },
      "public-addresses": {
        type: "string",
        value: "H:P,…",
        help: "the only public addresses the relay may report (needed for loopback/link-local); default any routable",
      },
    },
    examples: [
      "edgesocksctl nodes enroll relay-eu-1 --region eu-west",
      "edgesocksctl nodes enroll lab-1 --region lab --public-addresses 127.0.0.1:1080",
    ],
    async run({ api, args, json, out, url }) {
      const name = args.positional(0);
      const region = args.required("region");
      const expiresInSec = args.int("expires-in-sec", { min: 60, max: 30 * 86400 });
      const result = await api.nodes.enroll.mutate({
        name,
        region,
        replace: args.bool("replace"),
        publicAddresses: args.list("public-addresses") ?? null,
        ...(expiresInSec === undefined ? {} : { expiresInSec }),
      });
      emit(out, json, result, () =>
        [
          `node ${name} (${region}) enrolled; one-time enrollment token:`,
          `  ${result.enrollmentToken}`,
          "start the relay with (the token in a file: command lines are visible in ps):",
          `  (umask 077; echo '${result.enrollmentToken}' > ${ENROLLMENT_TOKEN_FILE})`,
          `  edgesocks-relay --control-url ${wsUrl(url)} --node-token-file ${ENROLLMENT_TOKEN_FILE} \\`,
          `    --region ${region} --name ${name} --state-dir /var/lib/edgesocks --public-address HOST:1080`,
        ].join("\n"),
      );
    },
  },
  {
    name: "nodes list",
    summary: "list relay nodes: health, public address, config status",
    details:
      "ONLINE: a heartbeat within the last 30 s. CONFIG: SYNCED (applied the newest snapshot),\nSTALE (applied an older one), NOT SENT, or ERROR (rejected it; REASON says why).",
    examples: ["edgesocksctl nodes list", "edgesocksctl nodes list --json"],
    async run({ api, json, out }) {
      const nodes = await api.nodes.list.query();
      emit(out, json, nodes, () =>
        table(nodes, [
          ["NAME", (n) => n.name],
          ["REGION", (n) => n.region],
          [
            "ONLINE",
            (n) =>
              n.disabled ? "disabled" : n.online ? "yes" : n.enrolled ? "no" : "not enrolled",
          ],
          ["PUBLIC_ADDRESS", (n) => n.publicAddress],
          ["CONFIG", (n) => n.configStatus],
          ["APPLIED", (n) => n.appliedVersion],
          ["NEWEST", (n) => n.newestVersion],
          ["SESSIONS", (n) => n.activeSessions],
          ["VERSION", (n) => n.softwareVersion],
          ["LAST_SEEN", (n) => n.lastSeenAt],
          ["REASON", (n) => n.rejectionReason],
        ]),
      );
    },
  },
  changeCommand(
    "disable",
    "stop a node: its token stops working at once, its connections close",
    "A disabled node is left out of /proxy.pac and raises no NOT SENT alert; `nodes enable`\nlets its token work again.",
  ),
  changeCommand("enable", "let a disabled node's token work again"),
  changeCommand(
    "remove",
    "delete a node: its token stops working at once, its connections close",
    "Its session history stays. To bring it back, enroll it again.",
  ),
];

function changeCommand(
  action: "disable" | "enable" | "remove",
  summary: string,
  details?: string,
): Command {
  const past = { disable: "disabled", enable: "enabled", remove: "removed" }[action];
  return {
    name: `nodes ${action}`,
    positionals: ["NAME"],
    summary,
    ...(details === undefined ? {} : { details }),
    examples: [`edgesocksctl nodes ${action} relay-eu-1`],
    async run({ api, args, json, out }) {
      const name = args.positional(0);
      const node: Outputs["nodes"]["disable"] = await api.nodes[action].mutate({ name });
      emit(out, json, node, () => `node ${node.name} ${past}`);
    },
  };
}
