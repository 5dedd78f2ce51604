import { z } from "zod";
import { kekFingerprint, parseKekPublicKey } from "../../crypto/kek.js";
import { AWS_WRAPPING_ALGORITHMS, awsAlgorithmsFor, wrapForAws } from "../../crypto/wrap-aws.js";
import { buildByokFile } from "../../crypto/wrap-azure.js";
import { withKeyMaterial } from "../../custody/key-versions.js";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import { appendToLedger } from "../../ledger/append.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { docs } from "../docs.js";
import { findKey } from "../lookups.js";
import { answer, bodyErrors, commonErrors, keyParamsSchema, notFound, ruleErrors } from "../schemas.js";

/**
 * `POST /v1/keys/{name}/export`: offline BYOK export for air-gapped imports (SPEC sections 3 and 9). Admin
 * only, only keys created with `offlineExport: true`; every export is a ledger entry naming the KEK's
 * fingerprint. The answer is the wrapped blob, which only the holder of the KEK's private key can open.
 * `Idempotency-Key` is not honoured here: storing the blob would keep wrapped material in the database,
 * and a repeated export is harmless (a fresh wrap, and one more ledger entry).
 */

const kekPem = z
  .string()
  .min(1)
  .max(16_384)
  .describe("the KEK / wrapping public key: PEM, or base64 DER SPKI");
const version = z.number().int().min(1).optional().describe("default: the latest version");

const exportBody = z
  .discriminatedUnion("format", [
    z.strictObject({
      format: z.literal("azure-byok"),
      kekPem,
      kekId: z.string().min(1).max(2048).describe("the KEK's key identifier, the .byok header's kid"),
      version,
    }),
    z.strictObject({
      format: z.literal("aws"),
      kekPem,
      algorithm: z
        .enum(AWS_WRAPPING_ALGORITHMS)
        .optional()
        .describe("default: the first AWS accepts for the type"),
      version,
    }),
  ])
  .meta({
    examples: [
      { format: "aws", kekPem: "-----BEGIN PUBLIC KEY-----\n...", algorithm: "RSA_AES_KEY_WRAP_SHA_256" },
      {
        format: "azure-byok",
        kekPem: "-----BEGIN PUBLIC KEY-----\n...",
        kekId: "https://contoso.vault.azure.net/keys/kek/0123abcd",
      },
    ],
  });

const exportAnswer = z.object({
  format: z.enum(["azure-byok", "aws"]),
  version: z.number().int(),
  algorithm: z.string(),
  kekFingerprint: z.string(),
  blob: z.string().describe("base64: the .byok file (azure-byok) or the EncryptedKeyMaterial (aws)"),
});

function kekInput(text: string): string | Buffer {
  return text.includes("-----BEGIN") ? text : Buffer.from(text.trim(), "base64");
}

export function registerKeyExportRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/v1/keys/:name/export",
    {
      config: { access: "admin", what: "export keys" },
      schema: {
        ...docs(
          "keys",
          "Offline BYOK export of one version (admin, offlineExport keys only)",
          "For air-gapped imports through a cloud console; every export is a ledger entry naming the KEK's " +
            "fingerprint. 422 `offline_export_not_allowed`, `unknown_version` or an unusable KEK. " +
            "`Idempotency-Key` is not honoured: a repeat wraps again (the blob is never stored).",
        ),
        params: keyParamsSchema,
        body: exportBody,
        response: {
          200: answer("the wrapped key version, openable only with the KEK's private key", exportAnswer),
          ...commonErrors,
          ...ruleErrors,
          ...bodyErrors,
          ...notFound,
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const body = request.body;
      const key = await findKey(ctx.db, request.params.name);
      if (!key.offlineExport) {
        throw new InvalidInputError(
          "offline_export_not_allowed",
          `key ${key.name} was not created with offlineExport: true, so it cannot be exported`,
        );
      }
      const exported = body.version ?? key.latestVersion;
      if (exported < 1 || exported > key.latestVersion) {
        throw new InvalidInputError("unknown_version", `key ${key.name} has no version ${exported}`, {
          field: "version",
          latestVersion: key.latestVersion,
        });
      }
      const kek = parseKekPublicKey(kekInput(body.kekPem), "kekPem");
      const fingerprint = kekFingerprint(kek);
      const algorithm =
        body.format === "aws" ? (body.algorithm ?? awsAlgorithmsFor(key.type)[0]) : "CKM_RSA_AES_KEY_WRAP";
      if (algorithm === undefined)
        throw new InvalidInputError("unsupported_key_type", `no AWS algorithm for ${key.type}`);
      const blob = await withKeyMaterial(ctx.db, ctx.ring, key.name, exported, (material, type) =>
        body.format === "aws"
          ? wrapForAws({
              material,
              keyType: type,
              wrappingKey: kek,
              algorithm: algorithm as (typeof AWS_WRAPPING_ALGORITHMS)[number],
            })
          : buildByokFile({ material, kek, kekId: body.kekId }),
      );
      await appendToLedger(ctx.db, {
        event: "key.exported",
        keyName: key.name,
        actor: caller.name,
        data: {
          format: body.format,
          version: exported,
          algorithm,
          kekFingerprint: fingerprint,
          ...(body.format === "azure-byok" ? { kekId: body.kekId } : {}),
        },
      });
      return {
        format: body.format,
        version: exported,
        algorithm,
        kekFingerprint: fingerprint,
        blob: blob.toString("base64"),
      };
    },
  );
}
