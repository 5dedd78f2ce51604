import type { Database } from "../db/client.js";
import type { Logger } from "../logger.js";
import { chainAll } from "./chain.js";

export interface Chainer {
  stop(): Promise<void>;
}

/**
 * Keep chaining pending ledger events every `intervalMs` in the background. Every API and worker process
 * runs one; the advisory lock inside `chainPending` lets one of them work at a time.
 */
export function startChainer(
  db: Database,
  log: Logger,
  intervalMs = 200,
  /** Told of each pass that chained entries: how many, and how long the pass took (metrics). */
  onPass?: (chained: number, seconds: number) => void,
): Chainer {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let failures = 0;

  const tick = () => {
    const started = performance.now();
    running = chainAll(db)
      .then((chained) => {
        failures = 0;
        if (chained > 0) onPass?.(chained, (performance.now() - started) / 1000);
      })
      .catch((err: unknown) => {
        failures += 1;
        // Pending events are safe in the database; chaining resumes when it is back.
        if (failures === 1 || failures % 50 === 0) log.warn({ err, failures }, "ledger chaining failed");
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs * Math.min(2 ** failures, 50));
      });
  };
  tick();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
