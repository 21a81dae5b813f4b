import { describe, expect, it } from "vitest";
import { connectRequestV4, RawClient } from "../src/test-support/raw-client";
import { startEchoTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

describe("ops HTTP server", () => {
  it("serves /health, /ready, /metrics and the active sessions", async () => {
    await using target = await startEchoTarget();
    await using relay = await startTestRelay(
      `[ops]\nbind = "127.0.0.1:0"\nuser_metrics_limit = 10\n`,
    );
    const ops = relay.relay.opsAddress()!;
    const base = `http://127.0.0.1:${ops.port}`;
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect(await (await fetch(`${base}/ready`)).json()).toEqual({ status: "ready" });

    using client = await RawClient.open(relay.port);
    client.write([5, 1, 0, ...connectRequestV4("127.0.0.1", target.port)]);
    await client.read(12);
    client.write("hello");
    await client.read(5);

    const active = (await (await fetch(`${base}/sessions/active`)).json()) as {
      bytesUp: number;
      state: string;
    }[];
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ state: "relaying", bytesUp: 5 });

    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const series of [
      "edgesocks_relay_connections_active 1",
      "edgesocks_relay_connections_total 1",
      'edgesocks_relay_acl_decisions_total{action="allow",rule="default"} 1',
      // Open sessions count before they end.
      "edgesocks_relay_bytes_up_total 5",
      'edgesocks_relay_user_bytes_total{user="anonymous",direction="up"} 5',
      "edgesocks_relay_handshake_duration_seconds_bucket",
      "edgesocks_relay_auth_total",
      "edgesocks_process_resident_memory_bytes",
    ]) {
      expect(metrics).toContain(series);
    }
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
