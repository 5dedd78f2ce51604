import type { Provider } from "../db/schema/index.js";
import type { Logger } from "../logger.js";
import { createAwsKmsProvider } from "./aws-kms/index.js";
import { createAzureKeyVaultProvider } from "./azure-key-vault/index.js";
import type { KmsProvider } from "./kms-provider.js";

/** One provider per cloud, made once per process (each caches its SDK clients per destination). */
export interface ProviderRegistry {
  get(provider: Provider): KmsProvider;
  close(): void;
}

export function createProviderRegistry(logger: Logger): ProviderRegistry {
  const providers: Record<Provider, KmsProvider> = {
    awskms: createAwsKmsProvider({ logger }),
    azurekeyvault: createAzureKeyVaultProvider({ logger }),
  };
  return {
    get: (provider) => providers[provider],
    close: () => {
      for (const provider of Object.values(providers)) provider.close();
    },
  };
}
