import type { VaultContext } from "../context.js";
import { keyClassOf } from "../keys/attributes.js";
import { deletedKeyBundle } from "../keys/bundle.js";
import { runOperation } from "../operation.js";
import { keyName } from "../request.js";
import type { RouteHandler } from "./route-types.js";

/**
 * DELETE /keys/{name} — KeyClient.beginDeleteKey: soft delete of the whole key (every version). The answer is
 * the DeletedKeyBundle of the latest version with recoveryId, deletedDate and scheduledPurgeDate; the
 * SDK's poller then reads GET /deletedkeys/{name}, which succeeds at once here.
 */
export function deleteKey(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    return runOperation(context, request, reply, {
      name: "deleteKey",
      mutating: true,
      quota: "delete",
      keyClass: keyClassOf(context.state.peekVersion(name, "")),
      keyName: name,
      run: () => deletedKeyBundle(context.vaultUrl(), context.state.softDelete(name)),
    });
  };
}
