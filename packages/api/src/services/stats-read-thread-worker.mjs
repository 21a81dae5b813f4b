// The thread behind StatsReadThread (stats-read-thread.ts): a connection of its own to a `file:`
// database that runs stats.summary's read transactions, so their statements do not hold the
// event loop. Plain JavaScript: worker threads do not inherit the TypeScript loader.
import { parentPort, workerData } from "node:worker_threads";
import { createClient } from "@libsql/client";

/** @type {{ url: string, busyTimeoutMs: number, cacheKiB: number }} */
const options = workerData;
const client = createClient({ url: options.url, timeout: options.busyTimeoutMs });
/** @type {Map<number, import("@libsql/client").Transaction>} */
const transactions = new Map();

parentPort.on("message", async (message) => {
  if (message.type === "close") {
    for (const tx of transactions.values()) tx.close();
    client.close();
    parentPort.close();
    return;
  }
  try {
    if (message.type === "begin") {
      const tx = await client.transaction("read");
      // Per transaction: the client's pool may hand out any of its connections.
      try {
        await tx.execute(`PRAGMA cache_size = -${Math.trunc(options.cacheKiB)}`);
      } catch (error) {
        tx.close();
        throw error;
      }
      transactions.set(message.tx, tx);
      parentPort.postMessage({ id: message.id, row: null });
    } else if (message.type === "end") {
      transactions.get(message.tx)?.close();
      transactions.delete(message.tx);
    } else {
      const tx = transactions.get(message.tx);
      if (tx === undefined) throw new Error(`no read transaction ${message.tx}`);
      const result = await tx.execute(message.query);
      // Rows are objects with non-enumerable indices, which structured clone would drop.
      parentPort.postMessage({ id: message.id, row: Array.from(result.rows[0] ?? []) });
    }
  } catch (error) {
    parentPort.postMessage({
      id: message.id,
      error: {
        message: error instanceof Error ? error.message : String(error),
        code: typeof error?.code === "string" ? error.code : undefined,
      },
    });
  }
});
