import type { FastifyReply, FastifyRequest } from "fastify";

/** The path parameters of the keys API; both may be missing or empty. */
export type KeyRequest = FastifyRequest<{ Params: { name?: string; version?: string } }>;

export type RouteHandler = (request: KeyRequest, reply: FastifyReply) => Promise<unknown>;
