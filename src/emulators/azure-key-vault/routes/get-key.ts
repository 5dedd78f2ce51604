import { nowSeconds, type VaultContext } from "../context.js";
import { checkUsable, keyClassOf } from "../keys/attributes.js";
import { keyBundle } from "../keys/bundle.js";
import { runOperation } from "../operation.js";
import { keyName, keyVersion } from "../request.js";
import type { RouteHandler } from "./route-types.js";

/**
 * GET /keys/{name}/{version} — KeyClient.getKey; the latest version is `/keys/{name}/` (the SDK's trailing
 * slash). A disabled version answers 403 KeyDisabled ("Operation get is not allowed on a disabled key."),
 * as the service does for disabled objects; list versions still shows it.
 */
export function getKey(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    const version = keyVersion(request.params.version);
    return runOperation(context, request, reply, {
      name: "getKey",
      mutating: false,
      quota: "get",
      keyClass: keyClassOf(context.state.peekVersion(name, version)),
      keyName: name,
      run: () => {
        const found = context.state.activeVersion(name, version);
        checkUsable(found, "get", nowSeconds(context));
        return keyBundle(context.vaultUrl(), name, found);
      },
    });
  };
}
