import { z } from "zod";
import { KeyferryError } from "../../errors/keyferry-error.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import { answer, commonErrors } from "../schemas.js";

const queueStatsSchema = z.object({
  queues: z.record(z.string(), z.record(z.string(), z.number())).describe("job counts per queue and state"),
  destinations: z
    .record(z.string(), z.object({ slotsInUse: z.number(), buckets: z.record(z.string(), z.number()) }))
    .describe("per destination: concurrency slots in use and rate-limit tokens left per quota bucket"),
});

/** `GET /v1/queues`: counts per queue and state, as the queue side reports them. */
export function registerQueuesRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/queues",
    {
      config: { access: "read", what: "read queue statistics" },
      schema: {
        ...docs("queues", "Counts per queue and state, per-destination rates and throttles"),
        querystring: z.strictObject({}),
        response: {
          200: answer("counts as the queue side reports them", queueStatsSchema),
          ...commonErrors,
        },
      },
    },
    async () => {
      try {
        return await ctx.queueStats();
      } catch (error) {
        throw new KeyferryError("backing_service_down", "the queue (Redis) is not answering", {
          status: 503,
          cause: error,
        });
      }
    },
  );
}
