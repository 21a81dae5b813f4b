import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
/** The relay's version, from its package.json. */
export const VERSION: string = (require("../package.json") as { version: string }).version;
