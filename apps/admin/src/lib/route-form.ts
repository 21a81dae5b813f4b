import type { RouterInputs, RouterOutputs } from "./api-types";

export type RouteView = RouterOutputs["routes"]["list"][number];
export type RouteInput = RouterInputs["routes"]["put"]["route"];

/** A new route's starting text in the editor. */
export const NEW_ROUTE_TEXT = `{
  "name": "via-parent",
  "resolve": "remote",
  "selector": "failover",
  "maxFails": 1,
  "failTimeoutSecs": 30,
  "chains": [
    { "hops": [{ "type": "socks5", "host": "127.0.0.1", "port": 1081 }] }
  ]
}`;

/**
 * A stored route as editor text. Hop passwords are never read back: a hop that has one shows
 * `"password": ""`, to be typed in again before saving (a route is saved whole).
 */
export function routeEditorText(route: RouteView): string {
  const { position: _position, ...rest } = route as RouteView & Record<string, unknown>;
  const chains = (rest.chains as { hops: Record<string, unknown>[] }[]).map((chain) => ({
    ...chain,
    hops: chain.hops.map((hop) => {
      const { hasPassword, ...fields } = hop;
      return hasPassword ? { ...fields, password: "" } : fields;
    }),
  }));
  return JSON.stringify({ ...rest, chains }, null, 2);
}

/** The routes.put input from editor text, or the first problem the browser can tell. */
export function parseRouteText(
  text: string,
): { ok: true; route: RouteInput } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, error: "expected one route object" };
  }
  const route = value as Record<string, unknown>;
  if (typeof route.name !== "string" || route.name === "")
    return { ok: false, error: "name: required" };
  if (!Array.isArray(route.chains) || route.chains.length === 0) {
    return { ok: false, error: "chains: at least one chain" };
  }
  for (const [i, chain] of (route.chains as { hops?: unknown }[]).entries()) {
    if (!Array.isArray(chain?.hops))
      return { ok: false, error: `chains[${i}].hops: a list of hops` };
    for (const [j, hop] of (chain.hops as Record<string, unknown>[]).entries()) {
      if (hop?.password === "") {
        return {
          ok: false,
          error: `chains[${i}].hops[${j}].password: type the hop's password again`,
        };
      }
    }
  }
  // The server checks everything else (hop kinds, ports, credentials) and names the field.
  return { ok: true, route: route as RouteInput };
}
