import type { SwaggerTransformObject } from "@fastify/swagger";
import { jsonSchemaTransformObject } from "fastify-type-provider-zod";
import type { OpenAPIV3_1 } from "openapi-types";
import { idempotencyHeaders } from "./schemas.js";

/** The OpenAPI document's frame (`/docs`, `/docs/json`); the paths come from the routes' zod schemas. */

/** Every tag an operation may carry, in the order `/docs` shows them. */
export const API_TAGS = [
  {
    name: "keys",
    description:
      "Named keys kept by keyferry: create (generates version 1), read, update, rotate here and in every " +
      "destination, delete, offline BYOK export.",
  },
  {
    name: "distributions",
    description: "A key's copies in kms destinations: distribute, read, remove (the key stays in keyferry).",
  },
  {
    name: "kms",
    description:
      "Destinations: AWS KMS regions and Azure Key Vaults. Credentials are sealed and never returned (admin).",
  },
  {
    name: "operations",
    description:
      "Every change is an operation that workers execute: state, steps, progress of bulk runs; cancel, retry.",
  },
  {
    name: "ledger",
    description:
      "The append-only, hash-chained record of every operation and step; verify recomputes the chain.",
  },
  { name: "tokens", description: "API bearer tokens and their roles (admin): issue, list, revoke." },
  {
    name: "queues",
    description: "Job counts per queue and state, per-destination concurrency slots and rate-limit tokens.",
  },
  { name: "probes", description: "Liveness and readiness for load balancers and orchestrators; no token." },
] as const;

export type ApiTag = (typeof API_TAGS)[number]["name"];

export const OPENAPI_FRAME = {
  openapi: "3.1.0",
  info: {
    title: "keyferry",
    version: "1",
    description:
      "Bring-your-own-key custody and distribution to Azure Key Vault and AWS KMS. Changes are accepted as " +
      "operations (202) that workers execute; follow them at `GET /v1/operations/{id}`. Errors are " +
      "`{error:{code,message,details?}}` with a stable `code`; mutating requests accept `Idempotency-Key`. " +
      "Roles: `auditor` reads, `operator` also changes keys and distributions, `admin` also manages kms " +
      "destinations and tokens.",
  },
  tags: [...API_TAGS],
  components: {
    securitySchemes: {
      bearer: {
        type: "http",
        scheme: "bearer",
        description: "an API token (kf_...) or KEYFERRY_ADMIN_TOKEN",
      },
    },
  },
} satisfies Partial<OpenAPIV3_1.Document>;

/** OpenAPI facts every protected route shares. */
export function docs(tag: ApiTag, summary: string, description?: string) {
  return {
    tags: [tag],
    summary,
    ...(description ? { description } : {}),
    security: [{ bearer: [] }],
  };
}

/** A route anyone may call (the probes): no security requirement. */
export function publicDocs(tag: ApiTag, summary: string, description?: string) {
  return { tags: [tag], summary, ...(description ? { description } : {}) };
}

/** Appended to the description of every mutating route. */
export const IDEMPOTENT =
  "Accepts `Idempotency-Key` (scoped to the token, kept 24 h): a replay answers the original status and body " +
  "with `Idempotent-Replayed: true`; the same key with another request is 422 `idempotency_key_reused`; " +
  "while the first is being accepted, 409 `idempotency_in_flight`.";

/** A protected route that runs under runMutation: documents the `Idempotency-Key` header it honours. */
export function mutationDocs(tag: ApiTag, summary: string, description?: string) {
  return {
    ...docs(tag, summary, description ? `${description} ${IDEMPOTENT}` : IDEMPOTENT),
    headers: idempotencyHeaders,
  };
}

type Document = OpenAPIV3_1.Document;
type Operation = OpenAPIV3_1.OperationObject;

const REPLAYED_HEADER: OpenAPIV3_1.HeaderObject = {
  description: "present on a replay: the stored answer to an earlier request with the same Idempotency-Key",
  schema: { type: "string", enum: ["true"] },
};

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

function operationsOf(document: Document): Operation[] {
  return Object.values(document.paths ?? {}).flatMap((item) =>
    METHODS.flatMap((method) => (item?.[method] ? [item[method]] : [])),
  );
}

function takesIdempotencyKey(operation: Operation): boolean {
  return (operation.parameters ?? []).some(
    (p) => "in" in p && p.in === "header" && p.name.toLowerCase() === "idempotency-key",
  );
}

const SCHEMA_REF = "#/components/schemas/";

function schemaRefs(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) schemaRefs(v, into);
  else if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (key === "$ref" && typeof v === "string" && v.startsWith(SCHEMA_REF))
        into.add(v.slice(SCHEMA_REF.length));
      else schemaRefs(v, into);
    }
  }
  return into;
}

/**
 * Components only for schemas the paths use: the zod registry is global and also yields an `...Input`
 * twin of every named schema, which no request uses.
 */
function pruneSchemas(document: Document): void {
  const schemas = document.components?.schemas;
  if (!schemas) return;
  const used = new Set<string>();
  let frontier = [...schemaRefs(document.paths, new Set())];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const name of frontier) {
      if (used.has(name)) continue;
      used.add(name);
      next.push(...schemaRefs(schemas[name], new Set()));
    }
    frontier = next;
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
}

/**
 * `transformObject` of @fastify/swagger: named zod schemas become components, every success answer of a
 * route honouring `Idempotency-Key` documents `Idempotent-Replayed`, unused components go.
 */
export const finishDocument: SwaggerTransformObject = (input) => {
  const document = jsonSchemaTransformObject(input) as Document;
  for (const operation of operationsOf(document)) {
    if (!takesIdempotencyKey(operation)) continue;
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      if (!status.startsWith("2") || "$ref" in response) continue;
      response.headers = { ...response.headers, "Idempotent-Replayed": REPLAYED_HEADER };
    }
  }
  pruneSchemas(document);
  return document;
};
