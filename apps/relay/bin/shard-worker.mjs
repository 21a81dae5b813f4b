// Entry of the relay's extra worker threads (server.workers > 1): like the
// main entry, it runs the TypeScript source through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../src/shard/shard-worker.ts");
