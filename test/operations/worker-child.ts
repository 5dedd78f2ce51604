/**
 * A real keyferry worker process (relay, sweeper, ledger chainer, BullMQ worker, the real engine) for the
 * SIGKILL and chaos tests, with short lock and stalled intervals so that a killed worker's jobs are free again
 * soon (or the production defaults, with TEST_DEFAULT_RECOVERY=1).
 * Configured from the environment like `keyferry worker`; stops cleanly on SIGTERM.
 */
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { startWorkerProcess } from "../../src/processes/worker.js";

const config = loadConfig(process.env);
const logger = createLogger({ level: config.logLevel });
const sweepMs = Number(process.env.TEST_SWEEP_MS ?? "0");
// TEST_DEFAULT_RECOVERY=1: the production lock, stalled and lease settings (the SIGKILL test measures them).
const defaults = process.env.TEST_DEFAULT_RECOVERY === "1";
const worker = await startWorkerProcess(config, logger, {
  worker: defaults
    ? { retryBaseMs: 100, retryMaxMs: 2000 }
    : { lockDurationMs: 2000, stalledIntervalMs: 1000, retryBaseMs: 100, retryMaxMs: 2000 },
  // A killed worker's runs are free again as soon as its jobs are (BullMQ's lock above).
  ...(defaults ? {} : { runLeaseMs: 3000 }),
  // The chaos tests lose Redis's data: the sweeper must notice soon (production waits minutes).
  ...(sweepMs > 0 ? { sweeper: { graceMs: sweepMs, intervalMs: sweepMs } } : {}),
});
process.once("SIGTERM", () => {
  worker.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
process.stdout.write("worker ready\n");
