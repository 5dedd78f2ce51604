import { incompleteSignature, missingAuthentication } from "./errors.js";

/**
 * The region a request is addressed to, read from its SigV4 credential scope
 * (`Credential=<access key>/<yyyymmdd>/<region>/kms/aws4_request`). Signatures are not verified: the emulator
 * accepts any signed request, but an unsigned one is refused as the service refuses it, so that a client
 * misconfigured to send no credentials is noticed here and not in the cloud.
 */
const CREDENTIAL_SCOPE = /Credential=[^/,\s]+\/\d{8}\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/;

export function regionOf(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === "") {
    throw missingAuthentication("Missing Authentication Token");
  }
  const scope = CREDENTIAL_SCOPE.exec(authorization);
  if (!authorization.startsWith("AWS4-HMAC-SHA256 ") || !scope?.[1]) {
    throw incompleteSignature(
      "Authorization header requires a SigV4 'Credential' parameter with a credential scope.",
    );
  }
  return scope[1];
}
