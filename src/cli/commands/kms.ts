import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { clientCommand, clientOf, idempotencyHeaders, reportOperation } from "../client/command-helpers.js";
import { type Page, printFields, printJson, printTable } from "../client/output.js";
import type { OperationBody } from "../client/wait.js";

const kmsPath = (name: string) => `/v1/kms/${encodeURIComponent(name)}`;
const copyPath = (kms: string, key: string) => `${kmsPath(kms)}/keys/${encodeURIComponent(key)}`;

/** `keyferry kms add|show|list|keys|remove`, `keyferry distribute`, `keyferry remove`. */
export function registerKmsCommands(program: Command): void {
  const kms = program.command("kms").description("destinations: AWS KMS regions and Azure Key Vaults");

  clientCommand(kms.command("add <name>"))
    .description("create or update a destination (admin)")
    .requiredOption("--provider <provider>", "awskms or azurekeyvault")
    .requiredOption("--key-collection <collection>", "AWS region, or Azure vault name or URL")
    .option(
      "--credentials-file <file>",
      "JSON credentials (AWS accessKeyId/secretAccessKey, Azure tenantId/clientId/clientSecret)",
    )
    .option("--options <json>", 'options as JSON, e.g. \'{"endpoint":"http://127.0.0.1:4599"}\'')
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (name: string, options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const body = {
        provider: options.provider,
        keyCollection: options.keyCollection,
        // Read from a file so that secrets never sit in shell history or process lists.
        ...(options.credentialsFile
          ? { credentials: JSON.parse(await readFile(options.credentialsFile, "utf8")) }
          : {}),
        ...(options.options ? { options: JSON.parse(options.options) } : {}),
      };
      const saved = await client.request<Record<string, unknown>>(
        "PUT",
        kmsPath(name),
        body,
        idempotencyHeaders(command),
      );
      if (flags.json) printJson(saved);
      else printFields(saved);
    });

  clientCommand(kms.command("show <name>"))
    .description("a destination (credentials are never shown)")
    .action(async (name: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const found = await client.request<Record<string, unknown>>("GET", kmsPath(name));
      if (flags.json) printJson(found);
      else printFields(found);
    });

  clientCommand(kms.command("list"))
    .description("every destination")
    .action(async (_options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const listed = await client.request<Page>("GET", "/v1/kms");
      if (flags.json) printJson(listed);
      else printTable(listed.items, ["name", "provider", "keyCollection"]);
    });

  clientCommand(kms.command("keys <name>"))
    .description("the keys copied into a destination")
    .action(async (name: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const listed = await client.request<Page>("GET", `${kmsPath(name)}/keys`);
      if (flags.json) printJson(listed);
      else printTable(listed.items, ["key", "state", "purposes", "protection", "remoteName", "updatedAt"]);
    });

  clientCommand(kms.command("remove <name>"))
    .description("delete a destination holding no keys (admin)")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (name: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      await client.request("DELETE", kmsPath(name), undefined, idempotencyHeaders(command));
      if (flags.json) printJson({ deleted: name });
      else process.stdout.write(`destination ${name} deleted\n`);
    });

  clientCommand(program.command("distribute <key>"))
    .description("copy a key into a destination")
    .requiredOption("--to <kms>", "destination")
    .requiredOption("--purpose <list>", "comma-separated: encrypt,decrypt,sign,verify,wrap,unwrap")
    .option("--protection <protection>", "hsm or software", "hsm")
    .option("--wait", "wait until the operation is done")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (key: string, options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const body = { purpose: String(options.purpose).split(","), protection: options.protection };
      const accepted = await client.request<OperationBody>(
        "PUT",
        copyPath(options.to, key),
        body,
        idempotencyHeaders(command),
      );
      await reportOperation(client, flags, accepted);
    });

  clientCommand(program.command("remove <key>"))
    .description("remove a key's copy from a destination (the key stays in keyferry)")
    .requiredOption("--from <kms>", "destination")
    .option("--wait", "wait until the operation is done")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (key: string, options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const accepted = await client.request<OperationBody>(
        "DELETE",
        copyPath(options.from, key),
        undefined,
        idempotencyHeaders(command),
      );
      await reportOperation(client, flags, accepted);
    });
}
