import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { clientCommand, clientOf, idempotencyHeaders } from "../client/command-helpers.js";
import { type Page, printFields, printJson, printTable } from "../client/output.js";
import { registerTokenBootstrap } from "./token-bootstrap.js";

/** A public key file as PEM text: PEM is passed through, DER SPKI (as AWS hands it out) is wrapped. */
async function publicKeyPem(file: string): Promise<string> {
  const bytes = await readFile(file);
  const text = bytes.toString("latin1");
  if (text.includes("-----BEGIN")) return text;
  const lines = bytes.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}

/** `keyferry token create|list|revoke` and `keyferry byok export`. */
export function registerTokenAndByokCommands(program: Command): void {
  const token = program.command("token").description("API tokens (admin)");
  registerTokenBootstrap(token);

  clientCommand(token.command("create <name>"))
    .description("issue a token; its secret is shown once")
    .requiredOption("--role <role>", "admin, operator or auditor")
    .option("--idempotency-key <key>", "make retries safe (a replay answers the token without its secret)")
    .action(async (name: string, options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const created = await client.request<Record<string, unknown>>(
        "POST",
        "/v1/tokens",
        { name, role: options.role },
        idempotencyHeaders(command),
      );
      if (flags.json) printJson(created);
      else printFields(created);
    });

  clientCommand(token.command("list"))
    .description("tokens (never their secrets)")
    .action(async (_options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const listed = await client.request<Page>("GET", "/v1/tokens");
      if (flags.json) printJson(listed);
      else printTable(listed.items, ["id", "name", "role", "prefix", "createdAt", "revokedAt"]);
    });

  clientCommand(token.command("revoke <id>"))
    .description("revoke a token")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (id: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      await client.request(
        "DELETE",
        `/v1/tokens/${encodeURIComponent(id)}`,
        undefined,
        idempotencyHeaders(command),
      );
      if (flags.json) printJson({ revoked: id });
      else process.stdout.write(`token ${id} revoked\n`);
    });

  const byok = program.command("byok").description("offline BYOK for air-gapped imports");

  clientCommand(byok.command("export <key>"))
    .description(
      "wrap a key (created with offlineExport) for a cloud console import (admin; recorded in the ledger)",
    )
    .requiredOption("--provider <provider>", "azure or aws")
    .requiredOption("--out <file>", "where to write the .byok file (azure) or the EncryptedKeyMaterial (aws)")
    .option("--kek <file>", "azure: the KEK's public key (PEM)")
    .option("--kek-id <url>", "azure: the KEK's key identifier")
    .option("--wrapping-key <file>", "aws: GetParametersForImport's PublicKey (DER or PEM)")
    .option("--algorithm <name>", "aws: the wrapping algorithm", "RSA_AES_KEY_WRAP_SHA_256")
    .option("--version <n>", "the key version (default: latest)", (v) => Number.parseInt(v, 10))
    .action(async (key: string, options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const azure = options.provider === "azure";
      const file = azure ? options.kek : options.wrappingKey;
      if (!file)
        throw new Error(azure ? "--kek is required for azure" : "--wrapping-key is required for aws");
      if (azure && !options.kekId) throw new Error("--kek-id is required for azure");
      const body = {
        format: azure ? "azure-byok" : "aws",
        kekPem: await publicKeyPem(file),
        ...(azure ? { kekId: options.kekId } : { algorithm: options.algorithm }),
        ...(options.version === undefined ? {} : { version: options.version }),
      };
      const { blob } = await client.request<{ blob: string }>(
        "POST",
        `/v1/keys/${encodeURIComponent(key)}/export`,
        body,
      );
      await writeFile(options.out, Buffer.from(blob, "base64"), { mode: 0o600 });
      if (flags.json) printJson({ key, out: options.out, format: body.format });
      else process.stdout.write(`wrote ${options.out}\n`);
    });
}
