import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createTestDatabase } from "../helpers/test-database.js";
import { benchRsaGeneration, benchSeal } from "./crypto.js";
import { benchLedgerAppend } from "./ledger-append.js";
import { type Comparison, table } from "./measure.js";
import { benchPacing } from "./pacing.js";

/**
 * `npm run bench`: every benchmark measures keyferry's way and its baseline side by side in one run and
 * reports the ratio; absolute figures depend on the machine, ratios much less. Results go to
 * test/bench/results/<time>.json.
 */
const quick = process.argv.includes("--quick");
// `--only pacing` (or ledger, crypto) runs one family.
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const wanted = (family: string) => only === undefined || only === family;
const results: Comparison[] = [];

if (wanted("ledger")) {
  const database = await createTestDatabase();
  try {
    for (const writers of [1, 8, 32]) {
      results.push(await benchLedgerAppend(database.db, writers, quick ? 20 : Math.ceil(1600 / writers)));
    }
  } finally {
    await database.close();
  }
}
// The emulators apply the published quotas doubled; the worker paces at the same scale.
if (wanted("pacing")) results.push(...(await benchPacing(quick ? 16 : 80, 2)));
if (wanted("crypto")) {
  results.push(await benchSeal(quick ? 500 : 5000));
  results.push(await benchRsaGeneration(quick ? 2 : 8));
}

process.stdout.write(`${table(results)}\n`);
const dir = join(import.meta.dirname, "results");
await mkdir(dir, { recursive: true });
const file = join(dir, `${new Date().toISOString().replaceAll(":", "-")}.json`);
await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`);
process.stdout.write(`written to ${file}\n`);
