import type { Command } from "commander";
import { loadConfig } from "../../config.js";
import { generateRootKey } from "../../crypto/root-key.js";
import { resealAll } from "../../custody/reseal.js";
import { loadRootKeyRing } from "../../custody/root-keys.js";
import { connectDatabase } from "../../db/client.js";
import { runMigrations } from "../../db/migrate.js";

/** `keyferry root-key generate|reseal`: making a root key and moving everything under a new one. */
export function registerRootKeyCommands(program: Command): void {
  const rootKey = program.command("root-key").description("root key management");

  rootKey
    .command("generate")
    .description("print a new random root key (base64, 32 bytes) for KEYFERRY_ROOT_KEY or a root key file")
    .action(() => {
      process.stdout.write(`${generateRootKey()}\n`);
    });

  rootKey
    .command("reseal")
    .description(
      "re-seal all key material and credentials under the current root key; run it after setting the new key " +
        "as KEYFERRY_ROOT_KEY[_FILE] and the old one in KEYFERRY_PREVIOUS_ROOT_KEYS",
    )
    .option("--json", "machine-readable output")
    .action(async (options: { json?: boolean }) => {
      const config = loadConfig();
      const ring = await loadRootKeyRing(config);
      await runMigrations(config.databaseUrl);
      const database = connectDatabase(config.databaseUrl, { max: 2, applicationName: "keyferry-reseal" });
      try {
        const result = await resealAll(database.db, ring);
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ rootKeyId: ring.current.id, ...result })}\n`);
        } else {
          process.stdout.write(
            `re-sealed ${result.keyVersions} key versions and ${result.kmsCredentials} credentials under root key ` +
              `${ring.current.id}; ${result.remaining} still under another root key\n`,
          );
        }
        if (result.remaining > 0) process.exitCode = 3;
      } finally {
        await database.close();
      }
    });
}
