import { type Args, UsageError } from "../args";
import type { Command, Inputs } from "../command";
import { emit, fields } from "../output";

type QosInput = Inputs["qos"]["update"];

/** `--flag N` → N, `--flag none` → null (clears it), absent → undefined (keeps it). */
function limit(args: Args, flag: string, min: number): number | null | undefined {
  return args.str(flag) === "none" ? null : args.int(flag, { min });
}

/** `--flag` / `--no-flag` → true / false; neither → undefined. */
function toggle(args: Args, flag: string): boolean | undefined {
  if (args.bool(flag) && args.bool(`no-${flag}`)) {
    throw new UsageError(`--${flag} and --no-${flag} cannot be used together`);
  }
  return args.bool(flag) ? true : args.bool(`no-${flag}`) ? false : undefined;
}

/** Refuses an update that would change nothing (a forgotten flag is a mistake, not a no-op). */
function something<T extends object>(input: T, command: string): T {
  if (Object.keys(input).length === 0) {
    throw new UsageError(`nothing to change (see edgesocksctl settings ${command} --help)`);
  }
  return input;
}

const QOS_LIMITS = [
  ["global-bytes-per-sec", "globalBytesPerSec", 1, "fleet-wide bandwidth per relay"],
  ["guaranteed-bytes-per-sec", "guaranteedBytesPerSec", 0, "each user's guaranteed share"],
  ["max-bytes-per-sec", "maxBytesPerSec", 1, "each user's ceiling"],
  ["burst-bytes", "burstBytes", 1, "token bucket size"],
  ["max-connections-per-user", "maxConnectionsPerUser", 0, "connections per user"],
  ["max-connections-global", "maxConnectionsGlobal", 0, "connections per relay"],
  ["max-connections-per-client", "maxConnectionsPerClient", 0, "connections per client IP"],
] as const;

export const settingsCommands: Command[] = [
  {
    name: "settings show",
    summary: "show the fleet's QoS, auth and ACL settings",
    examples: ["edgesocksctl settings show --json"],
    async run({ api, json, out }) {
      const [qos, auth, acl] = await Promise.all([
        api.qos.get.query(),
        api.auth.get.query(),
        api.acl.settings.query(),
      ]);
      emit(out, json, { qos, auth, acl }, () =>
        fields([
          ["acl.enabled", acl.enabled],
          ["acl.defaultPolicy", acl.defaultPolicy],
          ["auth.methods", auth.methods],
          ["auth.anonymousUser", auth.anonymousUser],
          ...Object.entries(qos).map(([k, v]) => [`qos.${k}`, v] as const),
        ]),
      );
    },
  },
  {
    name: "settings qos",
    summary: "change fleet-wide bandwidth shaping and connection limits (one snapshot version)",
    details: "A limit of none clears it (no limit); flags not given keep their value.",
    flags: {
      enable: { type: "boolean", help: "turn QoS on" },
      "no-enable": { type: "boolean", help: "turn QoS off" },
      "fair-sharing": { type: "boolean", help: "share spare bandwidth fairly" },
      "no-fair-sharing": { type: "boolean", help: "no fair sharing" },
      ...Object.fromEntries(
        QOS_LIMITS.map(([flag, , , help]) => [
          flag,
          { type: "string", value: "N|none", help } as const,
        ]),
      ),
    },
    examples: [
      "edgesocksctl settings qos --enable --max-bytes-per-sec 12500000 --burst-bytes 1048576",
      "edgesocksctl settings qos --max-connections-per-user none",
    ],
    async run({ api, args, json, out }) {
      const input: QosInput = {};
      const enabled = toggle(args, "enable");
      if (enabled !== undefined) input.enabled = enabled;
      const fair = toggle(args, "fair-sharing");
      if (fair !== undefined) input.fairSharing = fair;
      for (const [flag, key, min] of QOS_LIMITS) {
        const value = limit(args, flag, min);
        if (value !== undefined) input[key] = value;
      }
      const result = await api.qos.update.mutate(something(input, "qos"));
      emit(out, json, result, () => `qos settings saved (snapshot v${result.version})`);
    },
  },
  {
    name: "settings auth",
    summary: "change the SOCKS authentication methods and the anonymous user",
    flags: {
      methods: { type: "string", value: "M", multiple: true, help: "none and/or userpass" },
      "anonymous-user": { type: "string", value: "U", help: "the user anonymous clients are" },
    },
    examples: ["edgesocksctl settings auth --methods userpass"],
    async run({ api, args, json, out }) {
      const input: Inputs["auth"]["update"] = {};
      const methods = args.listOf("methods", ["none", "userpass"]);
      if (methods !== undefined) input.methods = methods;
      const anonymous = args.str("anonymous-user");
      if (anonymous !== undefined) input.anonymousUser = anonymous;
      const result = await api.auth.update.mutate(something(input, "auth"));
      emit(out, json, result, () => `auth settings saved (snapshot v${result.version})`);
    },
  },
  {
    name: "settings acl",
    summary: "turn the ACL on or off and set its default policy",
    flags: {
      enable: { type: "boolean", help: "enforce the ACL" },
      "no-enable": { type: "boolean", help: "allow everything (ACL off)" },
      "default-policy": { type: "string", value: "allow|block", help: "when no rule matches" },
    },
    examples: ["edgesocksctl settings acl --default-policy block"],
    async run({ api, args, json, out }) {
      const input: Inputs["acl"]["updateSettings"] = {};
      const enabled = toggle(args, "enable");
      if (enabled !== undefined) input.enabled = enabled;
      const policy = args.oneOf("default-policy", ["allow", "block"]);
      if (policy !== undefined) input.defaultPolicy = policy;
      const result = await api.acl.updateSettings.mutate(something(input, "acl"));
      emit(out, json, result, () => `acl settings saved (snapshot v${result.version})`);
    },
  },
];
