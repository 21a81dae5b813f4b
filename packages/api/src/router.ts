import { aclRouter } from "./routers/acl";
import { adminsRouter, whoamiProcedure } from "./routers/admins";
import { auditRouter } from "./routers/audit";
import { configRouter } from "./routers/config";
import { groupsRouter } from "./routers/groups";
import { nodesRouter } from "./routers/nodes";
import { policyRouter } from "./routers/policy";
import { rulesRouter } from "./routers/rules";
import { sessionsRouter } from "./routers/sessions";
import { authRouter, qosRouter } from "./routers/settings";
import { snapshotsRouter } from "./routers/snapshots";
import { statsRouter } from "./routers/stats";
import { usersRouter } from "./routers/users";
import { router } from "./trpc";

/** Every procedure of the control plane: admin API, relay protocol and enrollment. */
export const appRouter = router({
  whoami: whoamiProcedure,
  admins: adminsRouter,
  users: usersRouter,
  groups: groupsRouter,
  rules: rulesRouter,
  qos: qosRouter,
  auth: authRouter,
  acl: aclRouter,
  policy: policyRouter,
  snapshots: snapshotsRouter,
  sessions: sessionsRouter,
  stats: statsRouter,
  nodes: nodesRouter,
  config: configRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
