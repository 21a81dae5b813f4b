// One parser for relay addresses, shared with the API (which validates what relays report).
export { formatHostPort, type HostPort, parseHostPort } from "@edgesocks/api";
