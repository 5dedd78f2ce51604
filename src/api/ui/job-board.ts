import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Queue } from "bullmq";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Database } from "../../db/client.js";
import type { Role } from "../../db/schema/index.js";
import { cookieValue, SESSION_COOKIE, type SessionCodec, sessionCaller } from "./session.js";

/**
 * @bull-board's job view, behind the dashboard's cookie session. Two boards over the same queues:
 *
 * - `/ui/queues` for every role, read-only: bull-board's `readOnlyMode` is a property of each queue
 *   adapter fixed when the board is made (the browser app asks the server per queue), so one board cannot be
 *   read-only for some callers and not for others. On top of that its guard answers 405 to every method but
 *   GET, whatever the library would allow.
 * - `/ui/queues-admin` for admins only, with bull-board's actions (retry, promote, clean, pause). These act
 *   on BullMQ jobs behind the operations engine's back (the engine's own retry is
 *   `POST /v1/operations/{id}/retry`), which is why only admins get them.
 *
 * Jobs carry operation ids only (SPEC section 7), so the board shows no secret.
 */

export const JOB_BOARD_PATH = "/ui/queues";
export const ADMIN_JOB_BOARD_PATH = "/ui/queues-admin";

interface BoardSpec {
  basePath: string;
  readOnly: boolean;
  roles: readonly Role[];
}

const BOARDS: readonly BoardSpec[] = [
  { basePath: JOB_BOARD_PATH, readOnly: true, roles: ["auditor", "operator", "admin"] },
  { basePath: ADMIN_JOB_BOARD_PATH, readOnly: false, roles: ["admin"] },
];

function deny(request: FastifyRequest, reply: FastifyReply, status: 401 | 403 | 405, message: string) {
  const wantsPage = request.method === "GET" && !request.url.includes("/api/");
  if (wantsPage && status === 401) {
    // A browser arriving without a session goes to the dashboard, which signs in and comes back.
    return reply.code(302).header("location", "/ui/").send();
  }
  const code = status === 401 ? "unauthorized" : status === 403 ? "forbidden" : "read_only";
  return reply.code(status).send({ error: { code, message } });
}

export function installJobBoards(
  app: FastifyInstance,
  deps: { db: Database; queues: readonly Queue[]; codec: SessionCodec },
): void {
  for (const spec of BOARDS) {
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(spec.basePath);
    createBullBoard({
      queues: deps.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: spec.readOnly })),
      serverAdapter,
      options: {
        uiConfig: {
          boardTitle: spec.readOnly ? "keyferry jobs (read-only)" : "keyferry jobs (admin)",
          miscLinks: [{ text: "Dashboard", url: "/ui/" }],
          hideDocsLink: true,
        },
      },
    });
    app.register(async (board) => {
      board.addHook("onRequest", async (request, reply) => {
        const tokenId = deps.codec.open(
          cookieValue(request.headers.cookie, SESSION_COOKIE) ?? "",
          Math.floor(Date.now() / 1000),
        );
        const caller = tokenId === null ? null : await sessionCaller(deps.db, tokenId);
        if (caller === null) return deny(request, reply, 401, "sign in to the dashboard at /ui first");
        if (!spec.roles.includes(caller.role)) {
          return deny(request, reply, 403, `a ${caller.role} session may not use ${spec.basePath}`);
        }
        if (spec.readOnly && request.method !== "GET" && request.method !== "HEAD") {
          return deny(request, reply, 405, "this job view is read-only");
        }
        reply.header("cache-control", "no-store");
      });
      await board.register(serverAdapter.registerPlugin(), { prefix: spec.basePath });
    });
  }
}
