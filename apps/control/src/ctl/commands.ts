import { writeFileSync } from "node:fs";
import type { AppRouter } from "@edgesocks/api";
import type { TRPCClient } from "@trpc/client";
import { CtlError, int, list, type Parsed, type parse, positional, required, str } from "./args";
import { curlrc, probeRelays, proxychainsConf } from "./nearest";
import { print, table } from "./output";

type Api = TRPCClient<AppRouter>;

interface Command {
  usage: string;
  options?: Parameters<typeof parse>[1];
  run(api: Api, parsed: Parsed, json: boolean): Promise<void>;
}

const ownerOf = (text: string) => {
  const [kind, ...rest] = text.split(":");
  const name = rest.join(":");
  if ((kind !== "user" && kind !== "group") || !name) {
    throw new CtlError(`--owner: expected user:NAME or group:NAME, got "${text}"`);
  }
  return { kind, name } as const;
};

const actionOf = (text: string) => {
  if (text !== "allow" && text !== "block")
    throw new CtlError(`--action: expected allow or block, got "${text}"`);
  return text;
};

const protocolsOf = (values: string[] | undefined) => {
  for (const v of values ?? []) {
    if (v !== "tcp" && v !== "udp" && v !== "both")
      throw new CtlError(`--proto: expected tcp, udp or both, got "${v}"`);
  }
  return values as ("tcp" | "udp" | "both")[] | undefined;
};

const done = (json: boolean, value: unknown, message: string) => print(value, json, () => message);

/** Every `edgesocksctl GROUP ACTION`, with its usage line for --help. */
export const COMMANDS: Record<string, Command> = {
  "users add": {
    usage: "users add NAME [--password P] [--group G ...] [--max-connections N] [--disabled]",
    options: {
      password: { type: "string" },
      group: { type: "string", multiple: true },
      "max-connections": { type: "string" },
      disabled: { type: "boolean" },
    },
    async run(api, p, json) {
      const username = positional(p, 0, "NAME");
      const password = str(p, "password");
      const maxConnections = int(p, "max-connections");
      const result = await api.users.create.mutate({
        username,
        ...(password ? { password } : {}),
        groups: list(p, "group") ?? [],
        enabled: !p.flags.disabled,
        ...(maxConnections !== undefined ? { maxConnections } : {}),
      });
      done(json, result, `user ${username} created`);
    },
  },
  "users list": {
    usage: "users list [--json]",
    async run(api, _p, json) {
      const users = await api.users.list.query();
      print(users, json, () =>
        table(users as unknown as Record<string, unknown>[], [
          "username",
          "enabled",
          "groups",
          "maxConnections",
        ]),
      );
    },
  },
  "users disable": {
    usage: "users disable NAME",
    async run(api, p, json) {
      const username = positional(p, 0, "NAME");
      done(
        json,
        await api.users.update.mutate({ username, patch: { enabled: false } }),
        `user ${username} disabled`,
      );
    },
  },
  "users enable": {
    usage: "users enable NAME",
    async run(api, p, json) {
      const username = positional(p, 0, "NAME");
      done(
        json,
        await api.users.update.mutate({ username, patch: { enabled: true } }),
        `user ${username} enabled`,
      );
    },
  },
  "users passwd": {
    usage: "users passwd NAME --password P",
    options: { password: { type: "string" } },
    async run(api, p, json) {
      const username = positional(p, 0, "NAME");
      const password = required(p, "password");
      done(
        json,
        await api.users.update.mutate({ username, patch: { password } }),
        `password of ${username} changed`,
      );
    },
  },
  "users delete": {
    usage: "users delete NAME",
    async run(api, p, json) {
      const username = positional(p, 0, "NAME");
      done(json, await api.users.delete.mutate({ username }), `user ${username} deleted`);
    },
  },
  "groups add": {
    usage: "groups add NAME [--max-connections-per-user N]",
    options: { "max-connections-per-user": { type: "string" } },
    async run(api, p, json) {
      const name = positional(p, 0, "NAME");
      const max = int(p, "max-connections-per-user");
      done(
        json,
        await api.groups.create.mutate({
          name,
          ...(max !== undefined ? { maxConnectionsPerUser: max } : {}),
        }),
        `group ${name} created`,
      );
    },
  },
  "groups list": {
    usage: "groups list [--json]",
    async run(api, _p, json) {
      const groups = await api.groups.list.query();
      print(groups, json, () =>
        table(groups as unknown as Record<string, unknown>[], ["name", "maxConnectionsPerUser"]),
      );
    },
  },
  "groups delete": {
    usage: "groups delete NAME",
    async run(api, p, json) {
      const name = positional(p, 0, "NAME");
      done(json, await api.groups.delete.mutate({ name }), `group ${name} deleted`);
    },
  },
  "rules add": {
    usage:
      "rules add --owner user:NAME|group:NAME --action allow|block --dest D[,D...] [--port P[,P...]] [--proto tcp|udp|both] [--priority N] [--description TEXT] [--id ID]",
    options: {
      owner: { type: "string" },
      action: { type: "string" },
      dest: { type: "string", multiple: true },
      port: { type: "string", multiple: true },
      proto: { type: "string", multiple: true },
      priority: { type: "string" },
      description: { type: "string" },
      id: { type: "string" },
    },
    async run(api, p, json) {
      const destinations = list(p, "dest");
      if (!destinations?.length) throw new CtlError("--dest is required");
      const protocols = protocolsOf(list(p, "proto"));
      const priority = int(p, "priority");
      const id = str(p, "id");
      const description = str(p, "description");
      const result = await api.rules.create.mutate({
        owner: ownerOf(required(p, "owner")),
        action: actionOf(required(p, "action")),
        destinations,
        ports: list(p, "port") ?? ["*"],
        ...(protocols ? { protocols } : {}),
        ...(priority !== undefined ? { priority } : {}),
        ...(id ? { id } : {}),
        ...(description ? { description } : {}),
      });
      done(
        json,
        result,
        `rule created (snapshot version ${(result as { version?: number }).version ?? "?"})`,
      );
    },
  },
  "rules list": {
    usage: "rules list [--owner user:NAME|group:NAME] [--json]",
    options: { owner: { type: "string" } },
    async run(api, p, json) {
      const owner = str(p, "owner");
      const rules = await api.rules.list.query(owner ? { owner: ownerOf(owner) } : {});
      print(rules, json, () =>
        table(
          (rules as unknown as Record<string, unknown>[]).map((r) => ({
            ...r,
            owner: `${(r.owner as { kind: string }).kind}:${(r.owner as { name: string }).name}`,
          })),
          [
            "id",
            "owner",
            "action",
            "priority",
            "destinations",
            "ports",
            "protocols",
            "description",
          ],
        ),
      );
    },
  },
  "rules delete": {
    usage: "rules delete ID",
    async run(api, p, json) {
      const id = positional(p, 0, "ID");
      done(json, await api.rules.delete.mutate({ id }), `rule ${id} deleted`);
    },
  },
  "acl test": {
    usage: "acl test --user U --dest HOST|IP --port N [--address IP] [--proto tcp|udp]",
    options: {
      user: { type: "string" },
      dest: { type: "string" },
      port: { type: "string" },
      address: { type: "string" },
      proto: { type: "string" },
    },
    async run(api, p, json) {
      const port = int(p, "port");
      if (port === undefined) throw new CtlError("--port is required");
      const proto = str(p, "proto") ?? "tcp";
      if (proto !== "tcp" && proto !== "udp")
        throw new CtlError(`--proto: expected tcp or udp, got "${proto}"`);
      const address = str(p, "address");
      const result = await api.acl.test.query({
        user: required(p, "user"),
        destination: required(p, "dest"),
        port,
        protocol: proto,
        ...(address ? { address } : {}),
      });
      print(result, json, () => {
        const decision = (
          result as { decision: { action: string; ruleId: string | null; reason: string } }
        ).decision;
        return `${decision.action.toUpperCase()} — ${decision.reason}`;
      });
    },
  },
  "nodes enroll": {
    usage: "nodes enroll NAME --region REGION [--replace]",
    options: { region: { type: "string" }, replace: { type: "boolean" } },
    async run(api, p, json) {
      const name = positional(p, 0, "NAME");
      const region = required(p, "region");
      const result = await api.nodes.enroll.mutate({
        name,
        region,
        replace: p.flags.replace === true,
      });
      print(result, json, () =>
        [
          `node ${name} (${region}) enrolled; one-time token: ${result.enrollmentToken}`,
          "start the relay with:",
          `  edgesocks-relay --control-url ws://CONTROL:8080/trpc --node-token ${result.enrollmentToken} \\`,
          `    --region ${region} --name ${name} --state-dir /var/lib/edgesocks --public-address HOST:1080`,
        ].join("\n"),
      );
    },
  },
  "nodes list": {
    usage: "nodes list [--json]",
    async run(api, _p, json) {
      const nodes = await api.nodes.list.query();
      print(nodes, json, () =>
        table(nodes as unknown as Record<string, unknown>[], [
          "name",
          "region",
          "online",
          "publicAddress",
          "configStatus",
          "appliedVersion",
          "newestVersion",
          "activeSessions",
          "lastSeenAt",
          "rejectionReason",
        ]),
      );
    },
  },
  "snapshots list": {
    usage: "snapshots list [--limit N] [--json]",
    options: { limit: { type: "string" } },
    async run(api, p, json) {
      const page = await api.snapshots.list.query({ limit: int(p, "limit") ?? 20 });
      print(page, json, () =>
        table(page.items as unknown as Record<string, unknown>[], [
          "version",
          "createdAt",
          "createdBy",
          "summary",
        ]),
      );
    },
  },
  "snapshots diff": {
    usage: "snapshots diff FROM TO [--json]",
    async run(api, p, json) {
      const from = Number(positional(p, 0, "FROM"));
      const to = Number(positional(p, 1, "TO"));
      if (!Number.isInteger(from) || !Number.isInteger(to))
        throw new CtlError("FROM and TO are snapshot versions");
      const diff = await api.snapshots.diff.query({ from, to });
      print(diff, json, () => JSON.stringify(diff, null, 2));
    },
  },
  "snapshots rollback": {
    usage: "snapshots rollback VERSION",
    async run(api, p, json) {
      const version = Number(positional(p, 0, "VERSION"));
      if (!Number.isInteger(version)) throw new CtlError("VERSION is a snapshot version");
      const result = await api.snapshots.rollback.mutate({ version });
      done(
        json,
        result,
        `rolled back to version ${version} (new version ${(result as { version?: number }).version ?? "?"})`,
      );
    },
  },
  "sessions list": {
    usage:
      "sessions list [--user U] [--node N] [--region R] [--dest HOST|*.DOMAIN|IP|CIDR] [--status closed|failed|rejected] [--decision allow|block] [--from ISO] [--to ISO] [--min-bytes N] [--limit N] [--cursor C] [--json]",
    options: {
      user: { type: "string" },
      node: { type: "string" },
      region: { type: "string" },
      dest: { type: "string" },
      status: { type: "string", multiple: true },
      decision: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "min-bytes": { type: "string" },
      limit: { type: "string" },
      cursor: { type: "string" },
    },
    async run(api, p, json) {
      const filters: Record<string, unknown> = {};
      for (const [flag, key] of [
        ["user", "user"],
        ["node", "node"],
        ["region", "region"],
        ["dest", "destination"],
        ["decision", "decision"],
        ["from", "from"],
        ["to", "to"],
        ["cursor", "cursor"],
      ] as const) {
        const value = str(p, flag);
        if (value !== undefined) filters[key] = value;
      }
      const status = list(p, "status");
      if (status) filters.status = status;
      const minBytes = int(p, "min-bytes");
      if (minBytes !== undefined) filters.minBytes = minBytes;
      const page = await api.sessions.history.query({
        ...filters,
        limit: int(p, "limit") ?? 50,
      } as never);
      print(page, json, () => {
        const rows = table(page.items as unknown as Record<string, unknown>[], [
          "startedAt",
          "node",
          "user",
          "command",
          "destinationHost",
          "destinationPort",
          "bytesUp",
          "bytesDown",
          "status",
          "decision",
          "closeReason",
        ]);
        return page.nextCursor ? `${rows}\n(more: --cursor ${page.nextCursor})` : rows;
      });
    },
  },
  "sessions get": {
    usage: "sessions get ID [--json]",
    async run(api, p, json) {
      const session = await api.sessions.get.query({ id: positional(p, 0, "ID") });
      print(session, json, () =>
        Object.entries(session)
          .map(([k, v]) => `${k.padEnd(20)} ${v ?? "-"}`)
          .join("\n"),
      );
    },
  },
  stats: {
    usage: "stats [--from ISO] [--to ISO] [--node N] [--region R] [--user U] [--json]",
    options: {
      from: { type: "string" },
      to: { type: "string" },
      node: { type: "string" },
      region: { type: "string" },
      user: { type: "string" },
    },
    async run(api, p, json) {
      const input: Record<string, string> = {};
      for (const key of ["from", "to", "node", "region", "user"]) {
        const value = str(p, key);
        if (value !== undefined) input[key] = value;
      }
      const summary = await api.stats.summary.query(input as never);
      print(summary, json, () =>
        JSON.stringify((summary as { totals?: unknown }).totals ?? summary, null, 2),
      );
    },
  },
  nearest: {
    usage:
      "nearest [--samples N] [--timeout-ms N] [--write-curlrc FILE] [--write-proxychains FILE] [--json]",
    options: {
      samples: { type: "string" },
      "timeout-ms": { type: "string" },
      "write-curlrc": { type: "string" },
      "write-proxychains": { type: "string" },
    },
    async run(api, p, json) {
      const nodes = await api.nodes.list.query();
      const relays = nodes
        .filter((n) => n.online && n.publicAddress)
        .map((n) => ({ name: n.name, region: n.region, address: n.publicAddress! }));
      if (relays.length === 0) throw new CtlError("no healthy relay reports a public address");
      const probes = await probeRelays(relays, {
        samples: int(p, "samples") ?? 5,
        timeoutMs: int(p, "timeout-ms") ?? 3000,
      });
      const best = probes.find((r) => r.handshakeMs !== null);
      const curlPath = str(p, "write-curlrc");
      const chainsPath = str(p, "write-proxychains");
      if (best && curlPath) writeFileSync(curlPath, curlrc(best.address));
      if (best && chainsPath) writeFileSync(chainsPath, proxychainsConf(best.address));
      print(probes, json, () =>
        table(
          probes.map((r) => ({
            ...r,
            connectMs: r.connectMs?.toFixed(1),
            handshakeMs: r.handshakeMs?.toFixed(1),
          })),
          ["name", "region", "address", "connectMs", "handshakeMs", "error"],
        ),
      );
    },
  },
};
