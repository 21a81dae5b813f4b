import { describe, expect, it } from "vitest";
import { parseConfigText } from "./load";

/** RustSocks' own config/rustsocks.toml, as it ships (its [auth.pam] section included). */
const RUSTSOCKS_TOML = `
[server]
bind_address = "127.0.0.1"
bind_port = 1080
max_connections = 10000

[auth]
client_method = "none"  # Options: "none", "pam.address"
socks_method = "none"   # Options: "none", "userpass", "pam.address", "pam.username"

 [[auth.users]]
 username = "alice"
 password = "secret123"

[auth.pam]
username_service = "rustsocks"
address_service = "rustsocks-client"
default_user = "rhostusr"
default_ruser = "rhostusr"
verbose = false
verify_service = false

[logging]
level = "info"
format = "pretty"

[qos]
enabled = true
algorithm = "htb"
`;

describe("[auth.pam] and the PAM methods", () => {
  it("loads RustSocks' rustsocks.toml with its [auth.pam] section unchanged", () => {
    const { config } = parseConfigText(RUSTSOCKS_TOML, "rustsocks.toml");
    expect(config.auth.pam).toMatchObject({
      username_service: "rustsocks",
      address_service: "rustsocks-client",
      default_user: "rhostusr",
      default_ruser: "rhostusr",
      verbose: false,
      verify_service: false,
    });
  });

  it("accepts both tiers together (client_method = pam.address, socks_method = pam.username)", () => {
    const text = RUSTSOCKS_TOML.replace(
      'client_method = "none"',
      'client_method = "pam.address"',
    ).replace('socks_method = "none"', 'socks_method = "pam.username"');
    const { config } = parseConfigText(text, "rustsocks.toml");
    expect(config.auth).toMatchObject({
      client_method: "pam.address",
      socks_method: "pam.username",
    });
  });

  it("refuses what PAM could misread, naming the key", () => {
    const cases: [string, string][] = [
      [
        '[auth.pam]\naddress_service = "../shadow"\n',
        "auth.pam.address_service: expected a PAM service",
      ],
      ['[auth.pam]\ndefault_user = "-v"\n', "auth.pam.default_user: expected a user name"],
      [
        '[auth]\nclient_method = "pam.username"\n',
        'auth.client_method: expected "none" or "pam.address"',
      ],
      ['[auth]\ngroup_source = "ldap"\n', "auth.group_source:"],
      ["[auth.pam]\nmax_processes = 0\n", "auth.pam.max_processes:"],
      ['[auth.pam]\nservice = "x"\n', "auth.pam.service: unknown key"],
      [
        '[auth]\ngroup_source = "nss"\n[auth.group_lookup_env]\nPATH = "/tmp"\n',
        "auth.group_lookup_env.PATH: PATH and LANG are set by the relay",
      ],
      [
        '[auth]\ngroup_source = "nss"\n[auth.group_lookup_env]\n"LD PRELOAD" = "x.so"\n',
        "auth.group_lookup_env.LD PRELOAD: expected an environment variable name",
      ],
      [
        '[auth]\ngroup_source = "nss"\n[auth.group_lookup_env]\nLD_PRELOAD = 1\n',
        "auth.group_lookup_env.LD_PRELOAD:",
      ],
      [
        '[auth.group_lookup_env]\nLD_PRELOAD = "libnss_wrapper.so"\n',
        'auth.group_lookup_env: only used with auth.group_source = "nss"',
      ],
    ];
    for (const [text, message] of cases) {
      expect(() => parseConfigText(text)).toThrow(message);
    }
  });

  it("takes the group lookup's environment from [auth.group_lookup_env]", () => {
    const { config } = parseConfigText(
      '[auth]\ngroup_source = "nss"\n[auth.group_lookup_env]\nLD_PRELOAD = "libnss_wrapper.so"\nNSS_WRAPPER_MODULE_FN_PREFIX = "ldap"\n',
    );
    expect(config.auth.group_lookup_env).toEqual({
      LD_PRELOAD: "libnss_wrapper.so",
      NSS_WRAPPER_MODULE_FN_PREFIX: "ldap",
    });
  });
});
