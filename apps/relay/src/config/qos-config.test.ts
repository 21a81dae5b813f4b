import { describe, expect, it } from "vitest";
import { EXAMPLE_CONFIG } from "./example";
import { parseConfigText } from "./load";

describe("QoS, limits, egress and pool configuration", () => {
  it("has safe defaults: guard on, pool off, a bounded handshake table", () => {
    const { config } = parseConfigText("");
    expect(config.egress).toEqual({
      guard_enabled: true,
      blocked_networks: ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"],
      block_own_ports: true,
      blocked_local_ports: [],
    });
    expect(config.server.pool.enabled).toBe(false);
    expect(config.server.max_pending_handshakes).toBe(1000);
    expect(config.server.max_pending_handshakes_per_client).toBe(256);
  });

  it("loads the example with every new key and no warnings", () => {
    const { config, warnings } = parseConfigText(EXAMPLE_CONFIG);
    expect(warnings).toEqual([]);
    expect(config.server.pool).toMatchObject({
      connections_per_destination: 2,
      max_connections: 64,
    });
  });

  it.each([
    [`[egress]\nblocked_networks = ["169.254.0.0/40"]\n`, "egress.blocked_networks[0]"],
    [`[egress]\nblocked_local_ports = [0]\n`, "egress.blocked_local_ports[0]"],
    [`[server.pool]\ndestinations = ["no-port"]\n`, "server.pool.destinations[0]"],
    [`[server]\nmax_pending_handshakes = 0\n`, "server.max_pending_handshakes"],
  ])("names the bad key: %j", (toml, key) => {
    expect(() => parseConfigText(toml)).toThrow(
      expect.objectContaining({ code: "RELAY_E_CONFIG" }),
    );
    expect(() => parseConfigText(toml)).toThrow(
      new RegExp(`^config: ${key.replace(/[.[\]]/g, "\\$&")}: `),
    );
  });
});

describe("text in the configuration file", () => {
  it.each([
    [`[[auth.users]]\nusername = "al\\u0000ice"\npassword = "x"\n`, "auth.users[0].username"],
    [`[acl]\nanonymous_user = "anon\\u001b[2J"\n`, "acl.anonymous_user"],
    [`[server]\nbind_address = "${"1".repeat(301)}"\n`, "server.bind_address"],
  ])("refuses control characters and overlong text: %j", (toml, key) => {
    expect(() => parseConfigText(toml)).toThrow(
      new RegExp(`^config: ${key.replace(/[.[\]]/g, "\\$&")}: `),
    );
  });
});
