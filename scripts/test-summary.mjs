// Prints the one closing line CI reads: "N passed, M failed", totalling every
// test vitest ran. `npm test` stops before vitest when typecheck or lint
// fails; that counts as one failed check so a red run never reads as green.
import { existsSync, readFileSync } from "node:fs";

const status = Number(process.argv[2] ?? 0);
const file = ".test-results/vitest.json";
let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(file)) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A suite that failed to load has no tests in the counts; count it.
  for (const suite of report.testResults ?? []) {
    if (suite.status === "failed" && (suite.assertionResults ?? []).length === 0) failed += 1;
  }
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
