import type { VaultContext } from "../context.js";
import { keyClassOf } from "../keys/attributes.js";
import { runOperation } from "../operation.js";
import { keyName } from "../request.js";
import type { RouteHandler } from "./route-types.js";

/**
 * DELETE /deletedkeys/{name} — KeyClient.purgeDeletedKey: 204 without a body. The real purge finishes
 * asynchronously (tens of seconds); with `purgeDelayMs` the name stays unusable (409 ObjectIsBeingDeleted)
 * for that long, so that callers learn to wait for it.
 */
export function purgeDeletedKey(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    return runOperation(context, request, reply, {
      name: "purgeDeletedKey",
      mutating: true,
      quota: "purge",
      keyClass: keyClassOf(context.state.peekVersion(name, "")),
      keyName: name,
      status: 204,
      run: () => context.state.purge(name),
    });
  };
}
