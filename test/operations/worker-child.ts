/**
 * A real keyferry worker process (relay, sweeper, ledger chainer, BullMQ worker, the real engine) for the
 * SIGKILL test, with short lock and stalled intervals so that a killed worker's jobs are free again soon.
 * Configured from the environment like `keyferry worker`; stops cleanly on SIGTERM.
 */
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { startWorkerProcess } from "../../src/processes/worker.js";

const config = loadConfig(process.env);
const logger = createLogger({ level: config.logLevel });
const worker = await startWorkerProcess(config, logger, {
  worker: { lockDurationMs: 2000, stalledIntervalMs: 1000, retryBaseMs: 100, retryMaxMs: 2000 },
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
