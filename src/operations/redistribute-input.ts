import { z } from "zod";
import { PROTECTIONS, PURPOSES } from "../db/schema/index.js";

/** Which keys a redistribution takes: all of them, a list of names, or a name prefix. */
export const keySelectionSchema = z.union([
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({ names: z.array(z.string().min(1).max(200)).min(1).max(10_000) }),
  z.strictObject({ prefix: z.string().min(1).max(200) }),
]);

const destinationRef = z.strictObject({ id: z.uuid(), name: z.string() });

/**
 * A redistribution as intake stores it (`operations.input`): destinations by id and name, so a renamed or
 * recreated destination cannot change what an accepted run does.
 */
export const redistributeInputSchema = z.strictObject({
  to: z.array(destinationRef).min(1),
  from: destinationRef.optional(),
  keys: keySelectionSchema.optional(),
  purposes: z.array(z.enum(PURPOSES)).min(1).optional(),
  protection: z.enum(PROTECTIONS).optional(),
});

export type RedistributeInput = z.infer<typeof redistributeInputSchema>;
