import { AzureAuthorityHosts, ClientSecretCredential, DefaultAzureCredential } from "@azure/identity";
import { type CryptographyClient, KeyClient, type KeyClientOptions } from "@azure/keyvault-keys";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { Logger } from "../../logger.js";
import type { AzureCredentials, KmsDestination } from "../kms-provider.js";
import { isLoopback } from "../loopback.js";

type TokenCredential = ConstructorParameters<typeof KeyClient>[1];

/** Azure vault names: 3..24 letters, digits and single dashes, starting with a letter (Microsoft Learn). */
const VAULT_NAME = /^[a-zA-Z](?:[a-zA-Z0-9]|-(?=[a-zA-Z0-9])){2,23}$/;

/** Where a vault URL lives decides where its tokens come from (sovereign clouds have their own logins). */
const AUTHORITY_BY_DOMAIN: ReadonlyArray<[suffix: string, authority: string]> = [
  [".azure.cn", AzureAuthorityHosts.AzureChina],
  [".usgovcloudapi.net", AzureAuthorityHosts.AzureGovernment],
];

export interface VaultEndpoint {
  url: string;
  /** An emulator on this machine: plain http allowed, challenge resource not checked, no real credential. */
  local: boolean;
}

/**
 * `keyCollection` as a vault URL: a bare name is a public-cloud vault (or Managed HSM with `managedHsm`); a
 * full URL is taken as it is (sovereign clouds, private endpoints). Only loopback hosts may use plain http:
 * anywhere else a bearer token would cross the network in the clear.
 */
export function resolveVaultEndpoint(destination: KmsDestination): VaultEndpoint {
  const collection = destination.keyCollection.trim();
  if (VAULT_NAME.test(collection)) {
    const domain = destination.options.managedHsm ? "managedhsm.azure.net" : "vault.azure.net";
    return { url: `https://${collection.toLowerCase()}.${domain}`, local: false };
  }
  let url: URL;
  try {
    url = new URL(collection);
  } catch {
    throw invalidCollection(destination, "is neither a vault name nor a URL");
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    throw invalidCollection(destination, "must be a vault's base URL, without path, query or user");
  }
  const local = isLoopback(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
    throw invalidCollection(destination, "must use https (plain http only for a local emulator)");
  }
  return { url: url.origin, local };
}

/** Emulators check only that a token is sent: a fixed one avoids any real login. */
const EMULATOR_CREDENTIAL: TokenCredential = {
  getToken: async () => ({ token: "keyferry-emulator", expiresOnTimestamp: Date.now() + 3_600_000 }),
};

function credentialFor(destination: KmsDestination, endpoint: VaultEndpoint): TokenCredential {
  if (endpoint.local) return EMULATOR_CREDENTIAL;
  const host = new URL(endpoint.url).hostname;
  const authorityHost = AUTHORITY_BY_DOMAIN.find(([suffix]) => host.endsWith(suffix))?.[1];
  const options = authorityHost ? { authorityHost } : {};
  const { credentials } = destination;
  if (credentials === undefined) return new DefaultAzureCredential(options);
  if (!isAzureCredentials(credentials)) {
    throw new InvalidInputError(
      "invalid_credentials",
      `kms ${destination.name}: Azure credentials are {tenantId, clientId, clientSecret}`,
      { kms: destination.name },
    );
  }
  return new ClientSecretCredential(
    credentials.tenantId,
    credentials.clientId,
    credentials.clientSecret,
    options,
  );
}

function isAzureCredentials(value: unknown): value is AzureCredentials {
  const record = value as Partial<Record<keyof AzureCredentials, unknown>>;
  return (
    typeof record.tenantId === "string" &&
    typeof record.clientId === "string" &&
    typeof record.clientSecret === "string"
  );
}

export interface VaultClients {
  vaultUrl: string;
  keys: KeyClient;
  /** One CryptographyClient per versioned key, sharing the KeyClient's pipeline and credential. */
  crypto(name: string, version: string): CryptographyClient;
}

interface CacheEntry {
  revision: number;
  clients: VaultClients;
}

/**
 * SDK clients per destination, rebuilt when the destination's revision changes (new credentials, a new URL).
 * The SDK's own retries are off: keyferry's retry classifies each failure and honours Retry-After itself,
 * and a non-idempotent call must never be repeated behind its back.
 */
export class VaultClientCache {
  private readonly entries = new Map<string, CacheEntry>();

  constructor(private readonly logger: Logger | undefined) {}

  get(destination: KmsDestination): VaultClients {
    const cached = this.entries.get(destination.name);
    if (cached && cached.revision === destination.revision) return cached.clients;
    const clients = buildClients(destination);
    this.entries.set(destination.name, { revision: destination.revision, clients });
    this.logger?.debug(
      { kms: destination.name, revision: destination.revision, vaultUrl: clients.vaultUrl },
      "azure key vault clients built",
    );
    return clients;
  }

  /** Forget every client; the SDK's connections are pooled by its shared HTTP agent and close when idle. */
  close(): void {
    this.entries.clear();
  }
}

function buildClients(destination: KmsDestination): VaultClients {
  const endpoint = resolveVaultEndpoint(destination);
  const options: KeyClientOptions = {
    retryOptions: { maxRetries: 0 },
    ...(endpoint.local ? { allowInsecureConnection: true, disableChallengeResourceVerification: true } : {}),
  };
  const keys = new KeyClient(endpoint.url, credentialFor(destination, endpoint), options);
  const cryptoClients = new Map<string, CryptographyClient>();
  return {
    vaultUrl: endpoint.url,
    keys,
    crypto(name, version) {
      const id = `${name}/${version}`;
      let client = cryptoClients.get(id);
      if (!client) {
        client = keys.getCryptographyClient(name, { keyVersion: version });
        cryptoClients.set(id, client);
      }
      return client;
    },
  };
}

function invalidCollection(destination: KmsDestination, problem: string): InvalidInputError {
  return new InvalidInputError(
    "invalid_key_collection",
    `kms ${destination.name}: keyCollection ${problem}`,
    { kms: destination.name, field: "keyCollection" },
  );
}
