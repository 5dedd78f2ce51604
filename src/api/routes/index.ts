import type { ApiApp, ApiContext } from "../context.js";
import { registerKeyRoutes } from "./key.js";
import { registerKeyExportRoutes } from "./key-export.js";
import { registerKeyKmsRoutes } from "./key-kms.js";
import { registerKeyRotateRoutes } from "./key-rotate.js";
import { registerKeysRoutes } from "./keys.js";
import { registerKmsRoutes } from "./kms.js";
import { registerKmsKeyRoutes } from "./kms-key.js";
import { registerKmsKeysRoutes } from "./kms-keys.js";
import { registerKmsListRoutes } from "./kms-list.js";
import { registerKmsReconcileRoutes } from "./kms-reconcile.js";
import { registerLedgerRoutes } from "./ledger.js";
import { registerLedgerVerifyRoutes } from "./ledger-verify.js";
import { registerOperationRoutes } from "./operation.js";
import { registerOperationCancelRoutes } from "./operation-cancel.js";
import { registerOperationRetryRoutes } from "./operation-retry.js";
import { registerOperationsRoutes } from "./operations.js";
import { registerOverviewRoutes } from "./overview.js";
import { registerQueuesRoutes } from "./queues.js";
import { registerRedistributionsRoutes } from "./redistributions.js";
import { registerTokenRoutes } from "./token.js";
import { registerTokensRoutes } from "./tokens.js";

/**
 * Every path of the HTTP API (SPEC section 5), one file each. Fastify's router matches static segments
 * before parameters, so the order here does not decide anything.
 *
 *   keys.ts              POST, GET          /v1/keys
 *   key.ts               GET, PATCH, DELETE /v1/keys/{name}
 *   key-rotate.ts        POST               /v1/keys/{name}/rotate
 *   key-kms.ts           GET                /v1/keys/{name}/kms
 *   key-export.ts        POST               /v1/keys/{name}/export
 *   kms-list.ts          GET                /v1/kms
 *   kms.ts               PUT, GET, DELETE   /v1/kms/{name}
 *   kms-keys.ts          GET                /v1/kms/{kms}/keys
 *   kms-key.ts           PUT, GET, DELETE   /v1/kms/{kms}/keys/{key}
 *   kms-reconcile.ts     POST               /v1/kms/{kms}/reconcile
 *   operations.ts        GET                /v1/operations
 *   operation.ts         GET                /v1/operations/{id}
 *   operation-cancel.ts  POST               /v1/operations/{id}/cancel
 *   operation-retry.ts   POST               /v1/operations/{id}/retry
 *   redistributions.ts   POST               /v1/redistributions
 *   tokens.ts            POST, GET          /v1/tokens
 *   token.ts             DELETE             /v1/tokens/{id}
 *   ledger.ts            GET                /v1/ledger
 *   ledger-verify.ts     GET                /v1/ledger/verify
 *   queues.ts            GET                /v1/queues
 *   overview.ts          GET                /v1/overview   (the dashboard's one poll)
 */
export const ROUTES: ReadonlyArray<(app: ApiApp, ctx: ApiContext) => void> = [
  registerKeysRoutes,
  registerKeyRoutes,
  registerKeyRotateRoutes,
  registerKeyKmsRoutes,
  registerKeyExportRoutes,
  registerKmsListRoutes,
  registerKmsRoutes,
  registerKmsKeysRoutes,
  registerKmsKeyRoutes,
  registerKmsReconcileRoutes,
  registerOperationsRoutes,
  registerOperationRoutes,
  registerOperationCancelRoutes,
  registerOperationRetryRoutes,
  registerRedistributionsRoutes,
  registerTokensRoutes,
  registerTokenRoutes,
  registerLedgerRoutes,
  registerLedgerVerifyRoutes,
  registerQueuesRoutes,
  registerOverviewRoutes,
];

export function registerRoutes(app: ApiApp, ctx: ApiContext): void {
  for (const register of ROUTES) register(app, ctx);
}
