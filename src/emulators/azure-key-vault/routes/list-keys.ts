import type { VaultContext } from "../context.js";
import { keyClassOf } from "../keys/attributes.js";
import { keyItem, versionItem } from "../keys/bundle.js";
import { runOperation } from "../operation.js";
import { page } from "../paging.js";
import { keyName } from "../request.js";
import type { RouteHandler } from "./route-types.js";

/**
 * GET /keys — KeyClient.listPropertiesOfKeys: one item per active key, its kid without version, with the
 * latest version's attributes and tags, sorted by name.
 */
export function listKeys(context: VaultContext): RouteHandler {
  return async (request, reply) =>
    runOperation(context, request, reply, {
      name: "listPropertiesOfKeys",
      mutating: false,
      quota: "list",
      run: () =>
        page(
          context.state.activeKeys(),
          (key) => key.name.toLowerCase(),
          (key) => keyItem(context.vaultUrl(), key),
          { url: request.url, vaultUrl: context.vaultUrl(), path: "/keys" },
        ),
    });
}

/**
 * GET /keys/{name}/versions — KeyClient.listPropertiesOfKeyVersions: every version, disabled ones included,
 * ordered by version id as the service orders them (not by creation: callers must not rely on the order).
 */
export function listKeyVersions(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    return runOperation(context, request, reply, {
      name: "listPropertiesOfKeyVersions",
      mutating: false,
      quota: "list",
      keyClass: keyClassOf(context.state.peekVersion(name, "")),
      keyName: name,
      run: () => {
        const versions = [...context.state.activeKey(name).versions].sort((a, b) =>
          a.version.localeCompare(b.version),
        );
        return page(
          versions,
          (version) => version.version,
          (version) => versionItem(context.vaultUrl(), name, version),
          { url: request.url, vaultUrl: context.vaultUrl(), path: `/keys/${name}/versions` },
        );
      },
    });
  };
}
