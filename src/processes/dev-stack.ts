import { join } from "node:path";
import { type Config, loadConfig } from "../config.js";
import { loadRootKeyRing } from "../custody/root-keys.js";
import { startAwsKmsEmulator } from "../emulators/aws-kms/index.js";
import { startAzureKeyVaultEmulator } from "../emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../emulators/common/options.js";
import type { Logger } from "../logger.js";
import { createMetrics } from "../metrics/metrics.js";
import { startApi } from "./api.js";
import { devEnvironment, ensureDatabase } from "./dev-defaults.js";
import { startWorkerProcess } from "./worker.js";

export interface DevStackOptions {
  /** Where the dev stack keeps its root key, admin token and the emulators' state. */
  dir: string;
  env: Readonly<Record<string, string | undefined>>;
  /** 0 picks free ports (tests); the defaults are 8080 (or KEYFERRY_PORT), 4599 and 4600. */
  ports?: { api?: number; aws?: number; azure?: number };
  logger: (config: Config) => Logger;
}

export interface DevStack {
  config: Config;
  apiUrl: string;
  adminToken: string;
  aws: RunningEmulator;
  azure: RunningEmulator;
  /** The destinations registered for the emulators. */
  destinations: { aws: string; azure: string };
  stop(): Promise<void>;
}

export const DEV_DESTINATIONS = { aws: "aws-dev", azure: "azure-dev" } as const;

/**
 * `keyferry start`: migrations, the API, a worker, both cloud emulators, and the emulators registered as
 * destinations through the API itself, on local PostgreSQL and Redis. For development and demos only.
 */
export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const env = await devEnvironment(options.env, options.dir);
  const config = loadConfig({
    ...env,
    ...(options.ports?.api === undefined ? {} : { KEYFERRY_PORT: String(options.ports.api) }),
  });
  const logger = options.logger(config);
  await ensureDatabase(config.databaseUrl);
  await loadRootKeyRing(config);
  const emulatorLogger = logger.child({ component: "emulator" });
  // The emulators listen where the API does (0.0.0.0 in a container); their URLs are loopback either way.
  const aws = await startAwsKmsEmulator({
    host: config.host,
    port: options.ports?.aws ?? 4599,
    stateFile: join(options.dir, "aws-kms-emulator.json"),
    logger: emulatorLogger,
  });
  const azure = await startAzureKeyVaultEmulator({
    host: config.host,
    port: options.ports?.azure ?? 4600,
    stateFile: join(options.dir, "azure-key-vault-emulator.json"),
    logger: emulatorLogger,
  });
  // One registry for both: /metrics on the API shows the worker's provider calls and waits too.
  const metrics = createMetrics();
  const api = await startApi(config, logger, { metrics });
  const worker = await startWorkerProcess(config, logger, { metrics });
  const adminToken = config.adminToken ?? "";
  await register(api.url, adminToken, DEV_DESTINATIONS.aws, {
    provider: "awskms",
    keyCollection: "us-east-1",
    options: { endpoint: aws.url },
  });
  await register(api.url, adminToken, DEV_DESTINATIONS.azure, {
    provider: "azurekeyvault",
    keyCollection: azure.url,
  });

  return {
    config,
    apiUrl: api.url,
    adminToken,
    aws,
    azure,
    destinations: DEV_DESTINATIONS,
    async stop() {
      await worker.stop();
      await api.stop();
      await Promise.all([aws.close(), azure.close()]);
    },
  };
}

async function register(
  apiUrl: string,
  token: string,
  name: string,
  body: Record<string, unknown>,
): Promise<void> {
  const response = await fetch(`${apiUrl}/v1/kms/${name}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`registering destination ${name} failed: ${response.status} ${await response.text()}`);
}
