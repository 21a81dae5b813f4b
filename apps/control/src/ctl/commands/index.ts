import type { Command } from "../command";
import { aclCommands } from "./acl";
import { auditCommands } from "./audit";
import { groupsCommands } from "./groups";
import { metaCommands } from "./meta";
import { nearestCommands } from "./nearest";
import { nodesCommands } from "./nodes";
import { policyCommands } from "./policy";
import { quotaCommands } from "./quota";
import { rulesCommands } from "./rules";
import { sessionsCommands } from "./sessions";
import { settingsCommands } from "./settings";
import { snapshotsCommands } from "./snapshots";
import { statsCommands } from "./stats";
import { tokensCommands } from "./tokens";
import { usersCommands } from "./users";

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  ...usersCommands,
  ...groupsCommands,
  ...quotaCommands,
  ...rulesCommands,
  ...aclCommands,
  ...policyCommands,
  ...settingsCommands,
  ...nodesCommands,
  ...snapshotsCommands,
  ...sessionsCommands,
  ...statsCommands,
  ...nearestCommands,
  ...tokensCommands,
  ...auditCommands,
  ...metaCommands,
];
