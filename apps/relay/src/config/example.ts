/** The commented file `--generate-config` writes; it must load as it is (a test checks). */
export const EXAMPLE_CONFIG = `# EdgeSocks relay configuration (standalone mode).
# RustSocks' rustsocks.toml layout is accepted. An unknown key is an error
# (a typo must not leave a default such as "no authentication" in force);
# only RustSocks keys EdgeSocks leaves out ([sessions], [metrics], ...) are
# ignored, with one warning line each.

[server]
bind_address = "127.0.0.1"     # "0.0.0.0" or "::" to serve other hosts
bind_port = 1080
max_connections = 10000        # open client connections at most
handshake_timeout_ms = 10000   # from accept to a complete SOCKS request
idle_timeout_secs = 300        # both directions silent this long closes a session
connect_timeout_ms = 10000     # budget for connecting to a destination (all addresses)
shutdown_grace_ms = 10000      # SIGTERM waits this long for sessions to end
max_pending_handshakes = 1000  # connections mid-handshake at once; the oldest makes room for a new one
max_pending_handshakes_per_client = 256   # the same per client address (its own oldest goes)
workers = "auto"               # threads serving SOCKS on this port: "auto" (one per CPU core) or a number
proxy_protocol = "off"         # "v1" | "v2" | "any": PROXY header from a load balancer
# proxy_protocol_trusted = ["10.0.0.0/8"]   # required with proxy_protocol; nobody else's header is believed

# SOCKS over TLS. With bind_port set, TLS gets its own port and plain SOCKS
# stays on server.bind_port; without it the main port speaks TLS.
[server.tls]
enabled = false
certificate_path = "cert.pem"  # re-read when it changes on disk
private_key_path = "key.pem"
min_protocol_version = "TLSv1.2"   # TLSv1.2 | TLSv1.3
require_client_auth = false        # mutual TLS
# client_ca_path = "ca.pem"
# bind_port = 1443
# tls_client_cert_as_user = false  # use the client certificate's CN as the SOCKS user

# Pre-established upstream connections for busy destinations: a CONNECT to one
# skips the connect round trip. Each connection serves one client, once.
[server.pool]
enabled = false
# destinations = ["api.example.com:443", "10.0.0.5:8080"]
connections_per_destination = 2
max_connections = 64           # in all; the least recently used destination gives way
idle_timeout_secs = 30         # an unused connection this old is replaced

[auth]
socks_method = "none"          # none | userpass | pam.username | pam.address | gssapi (Kerberos, see [auth.gssapi] below)
client_method = "none"         # none | pam.address (PAM checks the client address first)
group_source = "config"        # config | nss (the system's groups of a user count too)
group_cache_ttl_secs = 300     # how long a user's nss groups are remembered

# nss only: extra environment of the group lookup (\`id -Gnz USER\`) alone, e.g.
# nss_wrapper loading libnss_ldap for the relay without editing /etc/nsswitch.conf
# [auth.group_lookup_env]
# LD_PRELOAD = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
# NSS_WRAPPER_MODULE_SO_PATH = "/usr/lib/x86_64-linux-gnu/libnss_ldap.so.2"
# NSS_WRAPPER_MODULE_FN_PREFIX = "ldap"
# NSS_WRAPPER_PASSWD = "/etc/edgesocks/passwd"
# NSS_WRAPPER_GROUP = "/etc/edgesocks/group"

# PAM (Debian: apt-get install pamtester); see docs/relay.md
# [auth.pam]
# username_service = "rustsocks"          # /etc/pam.d/rustsocks, for pam.username
# address_service = "rustsocks-client"    # for pam.address
# default_user = "rhostusr"
# default_ruser = "rhostusr"
# verbose = false
# verify_service = true                   # refuse to start if a service file is missing

# GSS-API / Kerberos (SOCKS5 method 0x01, RFC 1961); see docs/relay.md
# [auth.gssapi]
# service_name = "rcmd"                   # or "rcmd/proxy.internal[@REALM]"
# keytab_path = "/etc/krb5.keytab"
# protection_level = "integrity"          # the most granted: integrity | confidentiality | selective (client's choice)
# nec_clear_mode = false                  # true: also the level in clear (curl); unset level then means no protection
# strip_realms = ["CORP.INTERNAL"]
# verbose = false

# [[auth.users]]
# username = "alice"
# password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."   # \`password = "..."\` also works, with a warning
# groups = ["developers"]
# max_connections = 100                     # sessions at once for this user
# bandwidth_bytes_per_sec = 1000000          # this user's ceiling, each direction
# guaranteed_bandwidth_bytes_per_sec = 0     # kept for this user while others borrow
# quota = { bytes = 10737418240, period = "month" }   # day | week | month; direction = "total" | "up" | "down"

# quota_timezone = "UTC"                     # quota days, weeks (from Monday) and months
# [[auth.groups]]
# name = "interns"                           # a quota shared by every member
# quota = { bytes = 2000000000, period = "day", on_exhaust = "throttle", throttle_bytes_per_sec = 65536 }

[acl]
enabled = false
config_file = "acl.toml"       # relative to this file; watched, and SIGHUP reloads it
watch = true
anonymous_user = "anonymous"   # the user clients without credentials are evaluated as

# Bandwidth shaping (hierarchical token buckets, each direction on its own) and
# session limits. Unset rates mean no limit; users and groups may override.
# enabled switches the defaults below; a user's own limits always apply.
[qos]
enabled = false

[qos.htb]
# global_bandwidth_bytes_per_sec = 125000000     # the whole relay
# guaranteed_bandwidth_bytes_per_sec = 131072    # per user, ahead of borrowers
# max_bandwidth_bytes_per_sec = 12500000         # per user ceiling
# burst_size_bytes = 1048576                     # bucket depth (at least 64 KiB)
fair_sharing_enabled = true    # spare capacity split evenly between users active now

[qos.connection_limits]        # over a limit: reply 0x02 (SOCKS5) / 0x5B (SOCKS4)
# max_connections_per_user = 100
# max_connections_global = 10000
# max_connections_per_client = 200

# Destinations refused whatever the ACL allows (SSRF protection).
[egress]
guard_enabled = true
blocked_networks = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"]   # link-local, cloud metadata
block_own_ports = true         # the relay's own SOCKS, TLS and ops ports on its own addresses
blocked_local_ports = []       # more ports refused on the relay's own addresses

# The country database for country:XX in acl.toml destinations and sources.
[geoip]
# database_path = "/var/lib/GeoIP/GeoLite2-Country.mmdb"  # default: the bundled ip-location-db (PDDL-1.0)
watch = true                   # a replaced file is re-read; a corrupt one is refused, the old one stays

[udp]                          # UDP ASSOCIATE
enabled = true
# public_address = "203.0.113.10"   # announced in the reply when the relay is behind NAT
# port_range = "40000-40999"        # association sockets bind here, for firewalls
idle_timeout_secs = 120
max_datagram_bytes = 65507          # larger datagrams are dropped and counted

[bind]                         # the BIND command
enabled = true
timeout_ms = 60000             # wait this long for the expected peer
# external_address = "203.0.113.10" # listen and announce here instead of the address the client reached

[dns]
cache_ttl_secs = 30            # successful lookups are reused this long (0 disables the cache)
cache_max_entries = 10000
timeout_ms = 5000
# [dns.hosts]                  # static answers, consulted before the system resolver
# "intranet.example" = "10.0.0.5"
# "dual.example" = ["2001:db8::5", "10.0.0.5"]   # several: tried with Happy Eyeballs

[ops]
bind = "127.0.0.1:9100"        # GET /health, /ready, /metrics, /sessions/active
user_metrics_limit = 0         # per-user byte counters for this many users (0: off)

[logging]
level = "info"                 # trace | debug | info | warn | error | fatal | silent
format = "pretty"              # pretty | json
`;
