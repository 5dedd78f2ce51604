import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { KeyferryError } from "../../errors/keyferry-error.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { docs, publicDocs } from "../docs.js";
import { commonErrors, roleSchema } from "../schemas.js";
import { ADMIN_JOB_BOARD_PATH, installJobBoards, JOB_BOARD_PATH } from "./job-board.js";
import { createSessionCodec, SESSION_TTL_SECONDS, sessionCookie } from "./session.js";

/**
 * The operations dashboard at `/ui`: a static shell (HTML, one vanilla JS module, CSS; no build step) that
 * signs in with a bearer token kept in sessionStorage and polls `GET /v1/overview` with it. The token
 * never goes into a URL or a cookie; `POST /ui/session` gives the browser a cookie session only for the
 * pages it loads by itself (@bull-board's job view, see job-board.ts). The shell's pages are left out of
 * the OpenAPI document; the session routes are in it.
 */

// Beside this file: `npm run build` copies src/api/ui/assets to dist/api/ui/assets (tsc copies no other files);
// the source tree is the fallback for a build made without that step.
const ASSET_DIRS = [
  fileURLToPath(new URL("./assets/", import.meta.url)),
  fileURLToPath(new URL("../../../src/api/ui/assets/", import.meta.url)),
];

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  "/ui": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/assets/dashboard.js": { file: "dashboard.js", type: "text/javascript; charset=utf-8" },
  "/ui/assets/dashboard.css": { file: "dashboard.css", type: "text/css; charset=utf-8" },
};

// Everything the shell loads comes from this server; nothing inline, nothing framed.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const sessionSchema = z.object({
  name: z.string(),
  role: roleSchema,
  expiresAt: z.string(),
  jobBoards: z
    .object({ readOnly: z.string(), admin: z.string().optional() })
    .nullable()
    .describe("where the job view is for this session (null: this API process has no queue to show)"),
});

export function installDashboard(app: FastifyInstance, ctx: ApiContext): void {
  const assetDir = ASSET_DIRS.find((dir) => existsSync(dir)) ?? ASSET_DIRS[0] ?? "";
  const codec = createSessionCodec(ctx.ring.current.bytes, ctx.adminToken);
  const queues = ctx.boardQueues ?? [];

  const sendAsset = async (reply: FastifyReply, asset: { file: string; type: string }) => {
    const body = await readFile(`${assetDir}${asset.file}`).catch((error: unknown) => {
      throw new KeyferryError(
        "dashboard_unavailable",
        `the dashboard's files are not installed (${asset.file})`,
        {
          status: 503,
          cause: error,
        },
      );
    });
    return reply
      .header("content-type", asset.type)
      .header("content-security-policy", CONTENT_SECURITY_POLICY)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header("cache-control", "no-cache")
      .send(body);
  };

  for (const [url, asset] of Object.entries(ASSETS)) {
    app.get(url, { schema: { hide: true } }, (_request, reply) => sendAsset(reply, asset));
  }

  app.register(async (plain) => {
    const ui = plain as unknown as ApiApp;
    ui.post(
      "/ui/session",
      {
        config: { access: "read", what: "open a dashboard session" },
        schema: {
          ...docs(
            "queues",
            "Open a cookie session for the dashboard's job view",
            "Authenticated with the bearer token like every API call; answers with an HttpOnly, " +
              `SameSite=Strict cookie for \`/ui\` that expires after ${SESSION_TTL_SECONDS} s and holds no ` +
              "token (the token's id and an expiry, MACed). The job view at `/ui/queues` is read-only; " +
              "admins also get `/ui/queues-admin`. Revoking the token ends its sessions.",
          ),
          response: {
            200: sessionSchema.describe("the session is open: who it belongs to and where the job view is"),
            ...commonErrors,
          },
        },
      },
      async (request, reply) => {
        const caller = callerOf(request);
        const expiresAt = Math.floor(Date.now() / 1000) + SESSION_TTL_SECONDS;
        reply.header(
          "set-cookie",
          sessionCookie(
            codec.issue(caller.tokenId, expiresAt),
            SESSION_TTL_SECONDS,
            request.protocol === "https",
          ),
        );
        reply.header("cache-control", "no-store");
        return {
          name: caller.name,
          role: caller.role,
          expiresAt: new Date(expiresAt * 1000).toISOString(),
          jobBoards:
            queues.length === 0
              ? null
              : {
                  readOnly: `${JOB_BOARD_PATH}/`,
                  ...(caller.role === "admin" ? { admin: `${ADMIN_JOB_BOARD_PATH}/` } : {}),
                },
        };
      },
    );
    ui.delete(
      "/ui/session",
      {
        schema: {
          ...publicDocs(
            "queues",
            "Close the dashboard's cookie session",
            "Clears the cookie; needs no token.",
          ),
          response: { 204: z.null().describe("the cookie is cleared") },
        },
      },
      async (request, reply) =>
        reply
          .code(204)
          .header("set-cookie", sessionCookie("", 0, request.protocol === "https"))
          .send(null),
    );
  });

  // Test harnesses build the app without Redis: no queue, no job view.
  if (queues.length > 0) installJobBoards(app, { db: ctx.db, queues, codec });
}
