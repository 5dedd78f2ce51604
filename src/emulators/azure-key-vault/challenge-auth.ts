import type { FastifyReply, FastifyRequest } from "fastify";
import { unauthorized } from "./errors.js";

/**
 * Key Vault's challenge flow: a request without a bearer token is answered 401 with the authority and
 * resource to get one from, and the SDK (keyVaultAuthenticationPolicy in @azure/keyvault-common) sends its
 * first request of each client without token and without body for exactly this purpose. The answer is given
 * in an onRequest hook, before any body is read. Any bearer token is accepted: nothing here is secret.
 */

/** A tenant id that is obviously not a real one; the SDK passes it to the credential and nothing else. */
const EMULATOR_TENANT = "00000000-0000-0000-0000-000000000000";
const AUTHORITY = `https://login.windows.net/${EMULATOR_TENANT}`;

export function challengeHeader(managedHsm: boolean): string {
  const resource = managedHsm ? "https://managedhsm.azure.net" : "https://vault.azure.net";
  return `Bearer authorization="${AUTHORITY}", resource="${resource}"`;
}

export function challengeAuth(managedHsm: boolean) {
  const header = challengeHeader(managedHsm);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const authorization = request.headers.authorization;
    if (typeof authorization === "string" && /^Bearer\s+\S/i.test(authorization)) return undefined;
    // Returning the reply tells Fastify the request is answered: no body parsing, no handler.
    return reply.code(401).header("www-authenticate", header).send(unauthorized().toBody());
  };
}
