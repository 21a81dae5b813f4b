import { Route } from "@edgesocks/policy";
import { z } from "zod";
import { ApiError } from "../errors";
import { loadPolicyState, type RouteState } from "../services/policy-state";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { RouteName } from "./inputs";
import { RouteHopFields, routeFields, VersionOutput } from "./outputs";

/*
 * Upstream routes (docs/relay.md "Upstream routes"): named chains of parent proxies that allow
 * rules name with `route`. Every change is sealed into a snapshot first, so a route a rule still
 * names cannot be deleted and a rule cannot name a route that does not exist.
 */

/** A route as the API returns it: the snapshot's Route plus its place in the list. */
const RouteView = z
  .strictObject({
    ...routeFields(
      z.strictObject({
        ...RouteHopFields,
        /** Whether the hop has a password; the password itself is never sent back. */
        hasPassword: z.boolean().optional(),
      }),
    ),
    position: z.int(),
  })
  .meta({ id: "Route" });

const RouteChangeOutput = z.strictObject({ version: z.int(), route: RouteView });

/** What the API shows of a route: hop passwords are never sent back, only whether one is set. */
function routeView(route: RouteState, position: number) {
  return {
    ...route,
    chains: route.chains.map((chain) => ({
      ...(chain.proxyProtocol !== undefined ? { proxyProtocol: chain.proxyProtocol } : {}),
      hops: chain.hops.map((hop) => {
        if (!("password" in hop)) return hop;
        const { password, ...rest } = hop;
        return { ...rest, hasPassword: password !== undefined };
      }),
    })),
    position,
  };
}

function indexOfRoute(routes: RouteState[], name: string): number {
  const index = routes.findIndex((r) => r.name === name);
  if (index < 0) throw new ApiError("API_E_NOT_FOUND", `route "${name}" does not exist`);
  return index;
}

export const routesRouter = router({
  list: viewerProcedure.output(z.array(RouteView)).query(async ({ ctx }) => {
    const state = await loadPolicyState(ctx.services.database.db);
    return state.routes.map(routeView);
  }),

  /**
   * Creates a route, or replaces the one of that name: a route is edited whole, hop passwords
   * included (they are never read back).
   */
  put: adminProcedure
    .input(z.object({ route: Route }))
    .output(RouteChangeOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "routes.put",
          target: `route ${input.route.name}`,
          edit: (state) => {
            const route = input.route as RouteState;
            const index = state.routes.findIndex((r) => r.name === route.name);
            const before = index < 0 ? undefined : redacted(state.routes[index]!);
            const at = index < 0 ? state.routes.length : index;
            if (index < 0) state.routes.push(route);
            else state.routes[index] = route;
            return { before, after: redacted(route), result: routeView(route, at) };
          },
        })
        .then(({ version, result }) => ({ version, route: result })),
    ),

  delete: adminProcedure
    .input(z.object({ name: RouteName }))
    .output(VersionOutput)
    .mutation(({ ctx, input }) =>
      ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "routes.delete",
          target: `route ${input.name}`,
          edit: (state) => {
            const index = indexOfRoute(state.routes, input.name);
            const [route] = state.routes.splice(index, 1);
            return { before: redacted(route!), result: null };
          },
        })
        .then(({ version }) => ({ version })),
    ),
});

/** A route for the audit log: hop passwords are never written there. */
function redacted(route: RouteState): RouteState {
  return {
    ...route,
    chains: route.chains.map((chain) => ({
      ...(chain.proxyProtocol !== undefined ? { proxyProtocol: chain.proxyProtocol } : {}),
      hops: chain.hops.map((hop) =>
        "password" in hop && hop.password ? { ...hop, password: "***" } : hop,
      ),
    })),
  };
}
