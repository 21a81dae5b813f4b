/**
 * Where everything listens. Clients and targets are spread over 127.0.0.3-16 so
 * no single (source, destination) pair runs out of ephemeral ports at tens of
 * thousands of connections per second; every listening port is below 32768,
 * outside the ephemeral range. 127.0.0.2 is Dante's `external:` address alone:
 * Dante binds it before each outgoing connect, and those binds would starve
 * any other program's sockets on the same address.
 */
export const CLIENT_HOSTS = "127.0.0.3-127.0.0.16";
export const TARGET_HOSTS = "127.0.0.3-127.0.0.16";
export const DANTE_EXTERNAL = "127.0.0.2";
export const PROXY_HOST = "127.0.0.1";

/** Target ports: base+0 echo-close, +1 echo, +2 sink, +3 source (see loadgen/target.c). */
export const TARGET_PORT_BASE = 20001;
export const TargetPort = {
  echoClose: TARGET_PORT_BASE,
  echo: TARGET_PORT_BASE + 1,
  sink: TARGET_PORT_BASE + 2,
  source: TARGET_PORT_BASE + 3,
} as const;

/** SOCKS ports, one per server under test (only one runs at a time). */
export const ProxyPort = {
  microsocks: 21080,
  dante: 21081,
  edgesocks: 21082,
  /** The microsocks parent that `edgesocks-routed` sends every CONNECT through. */
  parent: 21083,
  /** haproxy's TLS listener in front of microsocks (on `parent`): the TLS peer. */
  tlsPeer: 21084,
} as const;

/** The relay's health and metrics server. */
export const RELAY_OPS_BIND = "127.0.0.1:21190";
