import type { Command, Inputs } from "../command";
import { bytes, emit, fields, table } from "../output";

export const statsCommands: Command[] = [
  {
    name: "stats",
    summary: "totals, per-node counts and top lists for a time window",
    details: "The window defaults to the last 24 hours. Times are ISO or an age (15m, 2h, 7d).",
    flags: {
      from: { type: "string", value: "TIME", help: "window start (default 24h ago)" },
      to: { type: "string", value: "TIME", help: "window end (default now)" },
      node: { type: "string", value: "N", help: "only relay node N" },
      region: { type: "string", value: "R", help: "only region R" },
      user: { type: "string", value: "U", help: "only user U" },
      top: { type: "string", value: "N", help: "entries in each top list (default 10)" },
    },
    examples: ["edgesocksctl stats --from 7d", "edgesocksctl stats --region eu-west --json"],
    async run({ api, args, json, out }) {
      const input: Inputs["stats"]["summary"] = {};
      for (const key of ["node", "region", "user"] as const) {
        const value = args.str(key);
        if (value !== undefined) input[key] = value;
      }
      const from = args.time("from");
      if (from !== undefined) input.from = from;
      const to = args.time("to");
      if (to !== undefined) input.to = to;
      const top = args.int("top", { min: 1, max: 100 });
      if (top !== undefined) input.top = top;
      const summary = await api.stats.summary.query(input);
      emit(out, json, summary, () => {
        const t = summary.totals;
        return [
          `${summary.from} → ${summary.to}`,
          "",
          fields([
            ["sessions", t.sessions],
            ["bytes up", bytes(t.bytesUp)],
            ["bytes down", bytes(t.bytesDown)],
            ["rejected", t.rejected],
            ["failed", t.failed],
            ["acl allow", t.aclAllow],
            ["acl block", t.aclBlock],
          ]),
          "",
          "by node:",
          table(summary.byNode, [
            ["NODE", (n) => n.node],
            ["REGION", (n) => n.region],
            ["SESSIONS", (n) => n.sessions],
            ["BYTES", (n) => bytes(n.bytes)],
            ["REJECTED", (n) => n.rejected],
          ]),
          "",
          "top users by bytes:",
          table(summary.topUsersByBytes, [
            ["USER", (u) => u.user],
            ["SESSIONS", (u) => u.sessions],
            ["BYTES", (u) => bytes(u.bytes)],
          ]),
          "",
          "top destinations:",
          table(summary.topDestinations, [
            ["HOST", (d) => d.host],
            ["SESSIONS", (d) => d.sessions],
            ["BYTES", (d) => bytes(d.bytes)],
          ]),
        ].join("\n");
      });
    },
  },
];
