// The thread behind WriteThread (write-thread.ts): one connection of its own to a `file:`
// database that runs write batches, so the statements and the commit's fsync happen off the
// event loop. Plain JavaScript: worker threads do not inherit the TypeScript loader.
import { parentPort, workerData } from "node:worker_threads";
import { createClient } from "@libsql/client";

/** @type {{ url: string, busyTimeoutMs: number, pragmas: string[] }} */
const options = workerData;
const client = createClient({ url: options.url, timeout: options.busyTimeoutMs, concurrency: 1 });
const ready = (async () => {
  for (const pragma of options.pragmas) await client.execute(pragma);
})();

parentPort.on("message", async (message) => {
  if (message.type === "close") {
    client.close();
    parentPort.close();
    return;
  }
  try {
    await ready;
    const results = await client.batch(message.statements, "write");
    parentPort.postMessage({
      id: message.id,
      results: results.map((result) => ({
        // Rows are objects with non-enumerable indices, which structured clone would drop.
        rows: result.rows.map((row) => Array.from(row)),
        rowsAffected: result.rowsAffected,
      })),
    });
  } catch (error) {
    parentPort.postMessage({
      id: message.id,
      error: {
        message: error instanceof Error ? error.message : String(error),
        code: typeof error?.code === "string" ? error.code : undefined,
        // The extended result code, so sqliteErrorKind() tells a duplicate key from other errors.
        rawCode: typeof error?.rawCode === "number" ? error.rawCode : undefined,
      },
    });
  }
});
