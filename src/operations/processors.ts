import type { Queryable } from "../db/client.js";
import type { OperationType } from "../db/schema/index.js";
import type { OperationContext, OperationRow } from "./context.js";
import { processCreate } from "./create.js";
import { processDelete } from "./delete.js";
import { failDistribute, processDistribute } from "./distribute.js";
import type { EngineDependencies } from "./engine.js";
import { processReconcile, reconcileWait } from "./reconcile.js";
import { processRedistribute, redistributeWait } from "./redistribute.js";
import { processRemove } from "./remove.js";
import { processRotate } from "./rotate.js";
import { processUpdate } from "./update.js";

export interface Processor {
  run(ctx: OperationContext): Promise<void>;
  /** Called in the transaction that marks the operation failed, to leave its rows in a clear state. */
  onFailed?(ctx: OperationContext, tx: Queryable): Promise<void>;
  /** Milliseconds to wait before running at all (a bulk parent whose children are busy), else undefined. */
  waitBeforeRun?(deps: EngineDependencies, operation: OperationRow): Promise<number | undefined>;
}

/** Every operation type the engine runs, and the file that says what it does. */
export const PROCESSORS: Partial<Record<OperationType, Processor>> = {
  create: { run: processCreate },
  rotate: { run: processRotate },
  update: { run: processUpdate },
  delete: { run: processDelete },
  distribute: { run: processDistribute, onFailed: failDistribute },
  remove: { run: processRemove },
  redistribute: { run: processRedistribute, waitBeforeRun: redistributeWait },
  reconcile: { run: processReconcile, waitBeforeRun: reconcileWait },
};
