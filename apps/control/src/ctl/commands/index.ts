import type { Command } from "../command";
import { aclCommands } from "./acl";
import { groupsCommands } from "./groups";
import { nearestCommands } from "./nearest";
import { nodesCommands } from "./nodes";
import { rulesCommands } from "./rules";
import { sessionsCommands } from "./sessions";
import { snapshotsCommands } from "./snapshots";
import { statsCommands } from "./stats";
import { usersCommands } from "./users";

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  ...usersCommands,
  ...groupsCommands,
  ...rulesCommands,
  ...aclCommands,
  ...nodesCommands,
  ...snapshotsCommands,
  ...sessionsCommands,
  ...statsCommands,
  ...nearestCommands,
];
