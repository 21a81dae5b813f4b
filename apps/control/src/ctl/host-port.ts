/** `host:port` or `[v6]:port` → parts; undefined when malformed. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  return port > 65535 ? undefined : { host: (match[1] ?? match[2])!, port };
}
