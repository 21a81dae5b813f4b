import { createRequire } from "node:module";
import { type BuildInfo, buildCommit } from "@edgesocks/telemetry";

const require = createRequire(import.meta.url);
/** The relay's version, from its package.json. */
export const VERSION: string = (require("../package.json") as { version: string }).version;

/** Version and commit, for edgesocks_relay_build_info. */
export const RELAY_BUILD: BuildInfo = {
  version: VERSION,
  commit: buildCommit(new URL(".", import.meta.url).pathname),
};
