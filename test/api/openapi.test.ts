import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { FastifyInstance, RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/app.js";
import { newTokenSecret } from "../../src/api/auth.js";
import { generateRootKey, parseRootKey } from "../../src/crypto/root-key.js";
import { apiTokens } from "../../src/db/schema/index.js";
import { createLogger } from "../../src/logger.js";
import { createProviderRegistry, type ProviderRegistry } from "../../src/providers/registry.js";
import type { Redis } from "../../src/redis.js";
import { useTestDatabase } from "../helpers/database.js";
import { ADMIN_TOKEN, FAKE_QUEUE_STATS } from "./harness.js";

/**
 * The OpenAPI document at `/docs/json` against the routes the server really has (an onRoute hook sees
 * every one as it is added), and against the answers the server really gives. There is no OpenAPI
 * validator among the dependencies, so the structural rules of OpenAPI 3.1 that matter to clients are
 * checked here. Every failure names the route (`METHOD /path`), also for routes this file does not own.
 */

const database = useTestDatabase();
const silent = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));

type Json = Record<string, unknown>;
const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"] as const;
const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Mutating `/v1` routes that do not run under runMutation, and why. */
const NO_IDEMPOTENCY: Record<string, string> = {
  "POST /v1/keys/{name}/export": "a repeat wraps again; storing the blob would keep wrapped material",
};
/** Routes with path parameters that cannot answer 404, and why. */
const NO_NOT_FOUND: Record<string, string> = {
  "PUT /v1/kms/{name}": "creates the destination when it does not exist",
};

interface ServerRoute {
  id: string;
  method: string;
  path: string;
  url: string;
  access: string | undefined;
  hasBody: boolean;
  validatesInput: boolean;
  pathParams: string[];
}

const asJson = (value: unknown): Json =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

let app: FastifyInstance;
let providers: ProviderRegistry;
let doc: Json;
let auditorToken: string;
const seen: RouteOptions[] = [];

beforeAll(async () => {
  const root = parseRootKey(generateRootKey());
  providers = createProviderRegistry(silent);
  app = buildApp({
    db: database().db,
    // Redis is never ready here: /readyz answers its 503, which the document must list.
    redis: {} as Redis,
    logger: silent,
    api: {
      ring: { current: root, all: [root] },
      providers,
      adminToken: ADMIN_TOKEN,
      queueStats: async () => FAKE_QUEUE_STATS,
    },
    onRoute: (route) => seen.push(route),
  });
  await app.ready();
  const made = newTokenSecret();
  await database()
    .db.insert(apiTokens)
    .values({ name: "openapi-auditor", role: "auditor", secretHash: made.hash, prefix: made.prefix });
  auditorToken = made.secret;
  const answer = await app.inject("/docs/json");
  expect(answer.statusCode).toBe(200);
  doc = answer.json();
});
afterAll(async () => {
  await app?.close();
  providers?.close();
});

/** Every route the server answers, but HEAD twins, hidden routes and `/docs` itself. */
function serverRoutes(): ServerRoute[] {
  return seen.flatMap((route) => {
    const schema = asJson(route.schema);
    if (schema.hide === true || route.url === "/docs" || route.url.startsWith("/docs/")) return [];
    const access = asJson(route.config).access;
    const path = openapiPath(route.url);
    return [route.method]
      .flat()
      .filter((method) => method !== "HEAD")
      .map((method) => ({
        id: `${method} ${path}`,
        method,
        path,
        url: route.url,
        access: typeof access === "string" ? access : undefined,
        hasBody: schema.body !== undefined,
        validatesInput: ["body", "querystring", "params"].some((k) => schema[k] !== undefined),
        pathParams: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? ""),
      }));
  });
}

function documented(): Map<string, Json> {
  const operations = new Map<string, Json>();
  for (const [path, item] of Object.entries(asJson(doc.paths))) {
    for (const method of METHODS) {
      const operation = asJson(item)[method];
      if (operation !== undefined) operations.set(`${method.toUpperCase()} ${path}`, asJson(operation));
    }
  }
  return operations;
}

/** A local `$ref` (`#/a/b`), followed until it is not a reference; undefined when it leads nowhere. */
function resolve(value: unknown, depth = 0): Json | undefined {
  const ref = asJson(value).$ref;
  if (typeof ref !== "string") return value === undefined ? undefined : asJson(value);
  if (!ref.startsWith("#/") || depth > 20) return undefined;
  let target: unknown = doc;
  for (const part of ref.slice(2).split("/")) {
    const key = part.replaceAll("~1", "/").replaceAll("~0", "~");
    target = asJson(target)[key];
    if (target === undefined) return undefined;
  }
  return resolve(target, depth + 1);
}

function allRefs(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) allRefs(v, into);
  else if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (key === "$ref" && typeof v === "string") into.push(v);
      else allRefs(v, into);
    }
  }
  return into;
}

const responsesOf = (operation: Json) => asJson(operation.responses);
const statusesOf = (operation: Json) => Object.keys(responsesOf(operation));
const parametersOf = (operation: Json) =>
  (Array.isArray(operation.parameters) ? operation.parameters : []).map((p) => resolve(p) ?? {});

/** `{error:{code,message,details?}}`, however the schema is spelled (inline or a component). */
function isErrorSchema(schema: unknown): boolean {
  const root = resolve(schema);
  if (root?.type !== "object") return false;
  if (!Array.isArray(root.required) || !root.required.includes("error")) return false;
  const error = resolve(asJson(root.properties).error);
  if (error?.type !== "object" || !Array.isArray(error.required)) return false;
  const fields = asJson(error.properties);
  return (
    error.required.includes("code") &&
    error.required.includes("message") &&
    !error.required.includes("details") &&
    resolve(fields.code)?.type === "string" &&
    resolve(fields.message)?.type === "string"
  );
}

describe("the OpenAPI document at /docs/json", () => {
  it("documents every route the server has, and nothing else", () => {
    const server = new Set(serverRoutes().map((r) => r.id));
    const inDoc = new Set(documented().keys());
    expect(server.size).toBeGreaterThan(25);
    expect({
      missingFromDoc: [...server].filter((id) => !inDoc.has(id)).sort(),
      notAServerRoute: [...inDoc].filter((id) => !server.has(id)).sort(),
    }).toEqual({ missingFromDoc: [], notAServerRoute: [] });
  });

  it("is an OpenAPI 3.1.0 document whose structure holds", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(asJson(doc.info)).toMatchObject({ title: "keyferry", version: expect.any(String) });
    expect(asJson(asJson(asJson(doc.components).securitySchemes).bearer)).toMatchObject({
      type: "http",
      scheme: "bearer",
    });
    const tags = new Map(
      (Array.isArray(doc.tags) ? doc.tags : []).map((t) => [asJson(t).name, asJson(t).description]),
    );
    for (const name of ["keys", "kms", "operations", "ledger", "tokens", "queues", "probes"]) {
      expect(tags.get(name), `tag ${name} has a description`).toEqual(expect.any(String));
    }
    const unresolved = allRefs(doc).filter((ref) => resolve({ $ref: ref }) === undefined);
    expect(unresolved, "every $ref resolves").toEqual([]);

    const problems: string[] = [];
    const operationIds = new Map<string, string>();
    for (const [id, operation] of documented()) {
      const fail = (what: string) => problems.push(`${id}: ${what}`);
      if (typeof operation.summary !== "string" || operation.summary.length === 0) fail("no summary");
      const opTags = Array.isArray(operation.tags) ? operation.tags : [];
      if (opTags.length === 0) fail("no tag");
      for (const tag of opTags) if (!tags.get(tag)) fail(`tag ${String(tag)} is not described in tags`);
      if (typeof operation.operationId === "string") {
        const other = operationIds.get(operation.operationId);
        if (other) fail(`operationId ${operation.operationId} is also ${other}'s`);
        operationIds.set(operation.operationId, id);
      }
      const responses = Object.entries(responsesOf(operation));
      if (responses.length === 0) fail("no responses");
      if (!responses.some(([status]) => status.startsWith("2"))) fail("no success response");
      for (const [status, raw] of responses) {
        const response = resolve(raw) ?? {};
        if (typeof response.description !== "string" || response.description === "Default Response")
          fail(`${status} has no description of its own`);
        const media = Object.values(asJson(response.content)).map(asJson);
        if (status !== "204" && !media.some((m) => m.schema !== undefined)) fail(`${status} has no schema`);
        const json = asJson(asJson(response.content)["application/json"]).schema;
        if (/^[45]/.test(status) && !isErrorSchema(json)) fail(`${status} is not the JSON error schema`);
      }
      const path = id.slice(id.indexOf(" ") + 1);
      const inUrl = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const parameters = parametersOf(operation);
      const declared = parameters.filter((p) => p.in === "path");
      for (const name of inUrl) {
        const p = declared.find((d) => d.name === name);
        if (!p) fail(`path parameter ${name} is not declared`);
        else if (p.required !== true) fail(`path parameter ${name} is not required`);
      }
      for (const p of declared)
        if (!inUrl.includes(String(p.name))) fail(`declares ${p.name}, not in the path`);
      const keys = parameters.map((p) => `${p.in}:${String(p.name).toLowerCase()}`);
      if (new Set(keys).size !== keys.length) fail(`a parameter is declared twice: ${keys.join(", ")}`);
      for (const p of parameters) if (p.schema === undefined) fail(`parameter ${p.name} has no schema`);
      const body = operation.requestBody === undefined ? undefined : resolve(operation.requestBody);
      if (body) {
        const media = asJson(asJson(body.content)["application/json"]);
        if (media.schema === undefined) fail("request body has no application/json schema");
        const example =
          media.example ??
          media.examples ??
          resolve(media.schema)?.examples ??
          resolve(media.schema)?.example;
        if (example === undefined) fail("request body has no example");
      }
    }
    expect(problems).toEqual([]);
  });

  it("lists on each route the errors it can give, and the idempotency headers of mutating ones", () => {
    const operations = documented();
    const problems: string[] = [];
    for (const route of serverRoutes()) {
      const operation = operations.get(route.id);
      if (!operation) continue; // the completeness test names it
      const statuses = new Set(statusesOf(operation));
      const need = (status: string, why: string) => {
        if (!statuses.has(status)) problems.push(`${route.id}: no ${status} (${why})`);
      };
      const security = JSON.stringify(operation.security ?? []);
      if (route.access !== undefined) {
        if (security !== JSON.stringify([{ bearer: [] }])) problems.push(`${route.id}: security ${security}`);
        need("401", "protected");
        need("403", "protected");
        need("503", "every token is checked in PostgreSQL");
      } else if (security !== "[]") {
        problems.push(`${route.id}: public, yet security ${security}`);
      }
      if (route.validatesInput) need("400", "input is validated");
      if (route.pathParams.length > 0 && !NO_NOT_FOUND[route.id]) need("404", "path parameters");
      if (route.hasBody) {
        for (const status of ["400", "422"]) need(status, "takes a body");
        need("413", "the body limit");
        need("415", "JSON only");
      }
      if (route.id === "GET /readyz") need("503", "PostgreSQL or Redis down");
      const idempotent =
        MUTATING.has(route.method) &&
        route.access !== undefined &&
        route.url.startsWith("/v1/") &&
        !NO_IDEMPOTENCY[route.id];
      if (!idempotent) continue;
      need("409", "Idempotency-Key in flight");
      need("422", "Idempotency-Key reused");
      const header = parametersOf(operation).find(
        (p) => p.in === "header" && String(p.name).toLowerCase() === "idempotency-key",
      );
      if (!header) problems.push(`${route.id}: no Idempotency-Key header parameter`);
      else if (header.required === true) problems.push(`${route.id}: Idempotency-Key must be optional`);
      for (const [status, raw] of Object.entries(responsesOf(operation))) {
        if (!status.startsWith("2")) continue;
        if (asJson(resolve(raw)?.headers)["Idempotent-Replayed"] === undefined)
          problems.push(`${route.id}: ${status} does not document Idempotent-Replayed`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("documents every status the server answers to unauthenticated, forbidden, malformed and absent requests", async () => {
    const operations = documented();
    const problems: string[] = [];
    for (const route of serverRoutes()) {
      const operation = operations.get(route.id);
      if (!operation) continue;
      const url = route.url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) =>
        name === "id" ? randomUUID() : `absent-${name}`,
      );
      const call = async (label: string, token: string | null, expected?: number) => {
        const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
        const payload = route.hasBody ? JSON.stringify({ "unexpected-field": true }) : undefined;
        if (payload) headers["content-type"] = "application/json";
        const answer = await app.inject({
          method: route.method as "GET",
          url,
          headers,
          ...(payload ? { payload } : {}),
        });
        const status = String(answer.statusCode);
        if (!statusesOf(operation).includes(status))
          problems.push(`${route.id}: answered ${status} (${label}), which is not documented`);
        if (expected !== undefined && answer.statusCode !== expected)
          problems.push(`${route.id}: answered ${status} (${label}), expected ${expected}`);
      };
      if (route.access === undefined) {
        // A public route with side effects would not be called blindly; every public route today is a GET.
        if (route.method === "GET") await call("public", null);
        continue;
      }
      await call("no token", null, 401);
      if (route.access !== "read") await call("auditor token", auditorToken, 403);
      // Absent objects, and an unknown field in any body: nothing is created.
      await call("admin token", ADMIN_TOKEN, route.hasBody ? 400 : undefined);
    }
    expect(problems).toEqual([]);
  });
});
