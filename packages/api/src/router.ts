import { aclRouter } from "./routers/acl";
import { adminsRouter, whoamiProcedure } from "./routers/admins";
import { auditRouter } from "./routers/audit";
import { authRouter } from "./routers/auth";
import { groupsRouter } from "./routers/groups";
import { nodeRouter } from "./routers/node";
import { nodesRouter } from "./routers/nodes";
import { policyRouter } from "./routers/policy";
import { qosRouter } from "./routers/qos";
import { quotasRouter } from "./routers/quotas";
import { routesRouter } from "./routers/routes";
import { rulesRouter } from "./routers/rules";
import { sessionsRouter } from "./routers/sessions";
import { snapshotsRouter } from "./routers/snapshots";
import { statsRouter } from "./routers/stats";
import { usersRouter } from "./routers/users";
import { mergeRouters, router } from "./trpc";

/**
 * Every procedure of the control plane: admin API, relay protocol and enrollment. The relay's
 * procedures (routers/node.ts) share the nodes, config and sessions paths with admin procedures;
 * mergeRouters refuses a name defined twice.
 */
export const appRouter = router({
  whoami: whoamiProcedure,
  admins: adminsRouter,
  users: usersRouter,
  groups: groupsRouter,
  rules: rulesRouter,
  routes: routesRouter,
  qos: qosRouter,
  quotas: quotasRouter,
  auth: authRouter,
  acl: aclRouter,
  policy: policyRouter,
  snapshots: snapshotsRouter,
  sessions: mergeRouters(nodeRouter.sessions, sessionsRouter),
  stats: statsRouter,
  nodes: mergeRouters(nodesRouter, nodeRouter.nodes),
  config: nodeRouter.config,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
