import type { VaultContext } from "../context.js";
import { keyClassOf } from "../keys/attributes.js";
import { keyBundle } from "../keys/bundle.js";
import { runOperation } from "../operation.js";
import { keyName } from "../request.js";
import { latestVersion } from "../state/model.js";
import type { RouteHandler } from "./route-types.js";

/**
 * POST /deletedkeys/{name}/recover — KeyClient.beginRecoverDeletedKey: every version comes back; the answer
 * is the latest version's KeyBundle. The SDK's poller then reads GET /keys/{name}/.
 */
export function recoverDeletedKey(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    return runOperation(context, request, reply, {
      name: "recoverDeletedKey",
      mutating: true,
      quota: "recover",
      keyClass: keyClassOf(context.state.peekVersion(name, "")),
      keyName: name,
      run: () => keyBundle(context.vaultUrl(), name, latestVersion(context.state.recover(name))),
    });
  };
}
