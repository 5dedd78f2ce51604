import type { FastifyInstance } from "fastify";
import type { VaultContext } from "../context.js";
import { CRYPTO_OPERATIONS } from "../crypto/key-operations.js";
import { createKey } from "./create-key.js";
import { deleteKey } from "./delete-key.js";
import { getDeletedKey, listDeletedKeys } from "./deleted-keys.js";
import { getKey } from "./get-key.js";
import { importKey } from "./import-key.js";
import { keyOperation } from "./key-operation.js";
import { listKeys, listKeyVersions } from "./list-keys.js";
import { purgeDeletedKey } from "./purge-deleted-key.js";
import { recoverDeletedKey } from "./recover-deleted-key.js";
import { updateKeyProperties } from "./update-key.js";

/**
 * Every path of the emulated keys API, checked against the SDK's generated operations
 * (@azure/keyvault-keys dist/esm/api/operations.js). `{version}` may be empty: the SDK asks for the latest
 * version as `/keys/{name}/` and `/keys/{name}//encrypt`. Static segments win over parameters in Fastify's
 * router, so `/keys/{name}/versions` and `/keys/{name}/create` never reach the `{version}` routes.
 */
export function registerRoutes(app: FastifyInstance, context: VaultContext): void {
  app.post("/keys/:name/create", createKey(context));
  app.put("/keys/:name", importKey(context));
  app.get("/keys/:name", getKey(context));
  app.get("/keys/:name/", getKey(context));
  app.get("/keys/:name/:version", getKey(context));
  app.patch("/keys/:name/", updateKeyProperties(context));
  app.patch("/keys/:name/:version", updateKeyProperties(context));
  app.delete("/keys/:name", deleteKey(context));
  app.get("/keys", listKeys(context));
  app.get("/keys/:name/versions", listKeyVersions(context));

  app.get("/deletedkeys", listDeletedKeys(context));
  app.get("/deletedkeys/:name", getDeletedKey(context));
  app.delete("/deletedkeys/:name", purgeDeletedKey(context));
  app.post("/deletedkeys/:name/recover", recoverDeletedKey(context));

  // encrypt, decrypt, wrapkey, unwrapkey, sign, verify: the SDK spells the path segments in lowercase.
  for (const operation of CRYPTO_OPERATIONS) {
    app.post(`/keys/:name/:version/${operation.toLowerCase()}`, keyOperation(context, operation));
  }
}
