import { CreateAliasCommand, DeleteAliasCommand, UpdateAliasCommand } from "@aws-sdk/client-kms";
import { ProviderError } from "../provider-error.js";
import type { AwsRun } from "./run.js";

/**
 * The alias `alias/<prefix>/<key>` follows the latest version. CreateAlias answers AlreadyExists when the
 * alias is there (an earlier attempt, or an earlier copy), and UpdateAlias then repoints it; UpdateAlias
 * refuses a target of another type or key usage, in which case the stale alias is replaced.
 */
export async function pointAlias(run: AwsRun, aliasName: string, targetArn: string): Promise<void> {
  const fields = { idempotent: true, key: run.key.name, arn: targetArn };
  const create = () =>
    run.session.call(
      "CreateAlias",
      (client, abortSignal) =>
        client.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: targetArn }), {
          abortSignal,
        }),
      fields,
    );
  try {
    await create();
  } catch (error) {
    if (!isRemote(error, "AlreadyExistsException")) throw error;
    try {
      await run.session.call(
        "UpdateAlias",
        (client, abortSignal) =>
          client.send(new UpdateAliasCommand({ AliasName: aliasName, TargetKeyId: targetArn }), {
            abortSignal,
          }),
        fields,
      );
    } catch (updateError) {
      if (!isRemote(updateError, "ValidationException")) throw updateError;
      await deleteAlias(run, aliasName);
      await create();
    }
  }
  run.session.ctx.logger.info(
    { op: "CreateAlias", kms: run.session.destination.name, key: run.key.name, arn: targetArn },
    "aws-kms alias points at the latest version",
  );
}

/** Delete the alias; an alias that is not there is already what was wanted. */
export async function deleteAlias(run: AwsRun, aliasName: string): Promise<void> {
  try {
    await run.session.call(
      "DeleteAlias",
      (client, abortSignal) => client.send(new DeleteAliasCommand({ AliasName: aliasName }), { abortSignal }),
      { idempotent: true, key: run.key.name },
    );
  } catch (error) {
    if (!isRemote(error, "NotFoundException")) throw error;
  }
}

export function isRemote(error: unknown, remoteCode: string): boolean {
  return error instanceof ProviderError && error.remoteCode === remoteCode;
}
