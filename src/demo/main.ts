import { createApiClient } from "../cli/client/api-client.js";
import { DEV_DESTINATIONS } from "../processes/dev-stack.js";
import { runSeedScenario } from "./seed-scenario.js";

/**
 * `npm run demo`: the seed scenario against a running dev stack (`npm start` in another terminal). The API
 * URL and token come from KEYFERRY_URL / KEYFERRY_TOKEN or the dev stack's defaults; the emulators' addresses
 * from the destinations the dev stack registered.
 */
const client = await createApiClient();
const aws = await client.request<{ options: { endpoint: string } }>("GET", `/v1/kms/${DEV_DESTINATIONS.aws}`);
const azure = await client.request<{ keyCollection: string }>("GET", `/v1/kms/${DEV_DESTINATIONS.azure}`);
await runSeedScenario({
  client,
  awsKms: DEV_DESTINATIONS.aws,
  azureKms: DEV_DESTINATIONS.azure,
  awsEndpoint: aws.options.endpoint,
  azureVaultUrl: azure.keyCollection,
  log: (line) => process.stdout.write(`${line}\n`),
});
