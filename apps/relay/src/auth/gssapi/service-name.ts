/**
 * A service name as the config gives it, as GSS-API imports it: "rcmd" is a
 * host-based service (any host of that service in the keytab),
 * "rcmd/proxy.example" or "rcmd/proxy.example@REALM" a Kerberos principal.
 */
export function serviceNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)?(@[A-Za-z0-9._-]+)?$/.test(name))
    return 'expected "service" or "service/host" (optionally "@REALM"), e.g. "rcmd" or "rcmd/proxy.internal"';
  if (name.includes("@") && !name.includes("/"))
    return `"${name}" is ambiguous (GSS-API reads it as service@host, RustSocks as service@REALM); write "service/host@REALM" or just "service"`;
  return undefined;
}
