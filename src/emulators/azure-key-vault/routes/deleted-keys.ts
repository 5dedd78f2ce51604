import type { VaultContext } from "../context.js";
import { keyClassOf } from "../keys/attributes.js";
import { deletedKeyBundle, deletedKeyItem } from "../keys/bundle.js";
import { runOperation } from "../operation.js";
import { page } from "../paging.js";
import { keyName } from "../request.js";
import type { RouteHandler } from "./route-types.js";

/** GET /deletedkeys/{name} — KeyClient.getDeletedKey, also the delete poller's check. */
export function getDeletedKey(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    return runOperation(context, request, reply, {
      name: "getDeletedKey",
      mutating: false,
      quota: "get",
      keyClass: keyClassOf(context.state.peekVersion(name, "")),
      keyName: name,
      run: () => deletedKeyBundle(context.vaultUrl(), context.state.deletedKey(name)),
    });
  };
}

/** GET /deletedkeys — KeyClient.listDeletedKeys, sorted by name. */
export function listDeletedKeys(context: VaultContext): RouteHandler {
  return async (request, reply) =>
    runOperation(context, request, reply, {
      name: "listDeletedKeys",
      mutating: false,
      quota: "list",
      run: () =>
        page(
          context.state.deletedKeys(),
          (key) => key.name.toLowerCase(),
          (key) => deletedKeyItem(context.vaultUrl(), key),
          { url: request.url, vaultUrl: context.vaultUrl(), path: "/deletedkeys" },
        ),
    });
}
