import { CtlError } from "../args";
import { curlrc, parseLogin, proxychainsConf, writeAtomically } from "../client-configs";
import type { Command } from "../command";
import { emit, ms, table } from "../output";
import { probeRelays } from "../probe";

export const nearestCommands: Command[] = [
  {
    name: "nearest",
    summary: "measure every healthy relay from here and pick the fastest",
    details: `Healthy: heard from within 30 s and reporting a public address (edgesocks-relay
--public-address). Each relay gets --samples TCP connects, each followed by a SOCKS5 greeting
(05 01 00 → 05 xx); relays are sorted by the median of connect + greeting. AUTH says whether
the relay accepts clients without a login. Exit code 1 when no relay answers.`,
    flags: {
      samples: { type: "string", value: "N", help: "connects per relay (default 5)" },
      "probe-timeout-ms": {
        type: "string",
        value: "N",
        help: "limit of one connect + greeting (default 2000)",
      },
      region: { type: "string", value: "R", multiple: true, help: "only relays in region(s) R" },
      "write-curlrc": {
        type: "string",
        value: "FILE",
        help: 'write a curl config for the best relay (socks5-hostname = "host:port")',
      },
      "write-proxychains": {
        type: "string",
        value: "FILE",
        help: "write a proxychains-ng config for the best relay",
      },
      "proxy-user": {
        type: "string",
        value: "USER:PASSWORD",
        help: "relay login to put into the written configs (files are mode 0600)",
      },
    },
    examples: [
      "edgesocksctl nearest",
      "edgesocksctl nearest --write-curlrc ~/.curlrc && curl https://example.com",
      "edgesocksctl nearest --write-proxychains ~/.proxychains/proxychains.conf --proxy-user alice:s3cret",
    ],
    async run({ api, args, json, out }) {
      const regions = args.list("region");
      const login = args.str("proxy-user");
      const curlPath = args.str("write-curlrc");
      const chainsPath = args.str("write-proxychains");
      // Checked before measuring, so a bad flag writes nothing.
      const credentials =
        login === undefined
          ? undefined
          : parseLogin(login, { proxychains: chainsPath !== undefined });
      const nodes = await api.nodes.list.query();
      const relays = nodes
        .filter((n) => n.online && n.publicAddress !== null)
        .filter((n) => regions === undefined || regions.includes(n.region))
        .map((n) => ({ name: n.name, region: n.region, address: n.publicAddress! }));
      if (relays.length === 0) {
        throw new CtlError(
          `no healthy relay${regions ? ` in ${regions.join(", ")}` : ""} reports a public address (see edgesocksctl nodes list)`,
        );
      }
      const probes = await probeRelays(relays, {
        samples: args.int("samples", { min: 1, max: 100 }) ?? 5,
        timeoutMs: args.int("probe-timeout-ms", { min: 1, max: 60_000 }) ?? 2000,
      });
      const best = probes.find((p) => p.totalMs !== null) ?? null;
      const written: { kind: "curlrc" | "proxychains"; path: string }[] = [];
      if (best) {
        if (curlPath !== undefined) {
          writeAtomically(curlPath, curlrc(best.address, credentials));
          written.push({ kind: "curlrc", path: curlPath });
        }
        if (chainsPath !== undefined) {
          writeAtomically(chainsPath, await proxychainsConf(best.address, credentials));
          written.push({ kind: "proxychains", path: chainsPath });
        }
      }
      emit(out, json, { best: best?.name ?? null, relays: probes, written }, () =>
        [
          table(probes, [
            ["NAME", (p) => p.name],
            ["REGION", (p) => p.region],
            ["ADDRESS", (p) => p.address],
            ["CONNECT_MS", (p) => ms(p.connectMs)],
            ["GREETING_MS", (p) => ms(p.greetingMs)],
            ["TOTAL_MS", (p) => ms(p.totalMs)],
            ["OK", (p) => `${p.ok}/${p.samples}`],
            ["AUTH", (p) => p.auth],
            ["ERROR", (p) => p.error],
          ]),
          ...(best ? [`best: ${best.name} (${best.region}) at ${best.address}`] : []),
          ...written.map((w) => `wrote ${w.kind} config: ${w.path}`),
        ].join("\n"),
      );
      if (!best) throw new CtlError(`no relay answered (${probes.length} tried)`);
    },
  },
];
