import type { Command } from "commander";
import { LOG_LEVELS, type LogLevel } from "../../config.js";
import { parseFaultOptions } from "../../emulators/common/faults.js";
import type { EmulatorOptions, RunningEmulator } from "../../emulators/common/options.js";
import { parseQuotaMode } from "../../emulators/common/quota.js";
import { createLogger } from "../../logger.js";
import { stopOnSignals } from "../../processes/api.js";

interface EmulateFlags {
  host: string;
  port: string;
  quota: string;
  state?: string;
  latency?: string;
  errorRate?: string;
  throttleRate?: string;
  failAfterCommit?: string;
  faultOperations?: string;
  managedHsm?: boolean;
  purgeDelay?: string;
  logLevel: string;
}

const EMULATORS = {
  aws: {
    defaultPort: "4599",
    start: async (options: EmulatorOptions) =>
      (await import("../../emulators/aws-kms/index.js")).startAwsKmsEmulator(options),
    describe: (url: string) =>
      `AWS KMS emulator at ${url}\n  use it with: new KMSClient({ endpoint: "${url}", region: "eu-west-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } })`,
  },
  azure: {
    defaultPort: "4600",
    start: async (options: EmulatorOptions & { managedHsm?: boolean; purgeDelayMs?: number }) =>
      (await import("../../emulators/azure-key-vault/index.js")).startAzureKeyVaultEmulator(options),
    describe: (url: string) =>
      `Azure Key Vault emulator at ${url}\n  use it with: new KeyClient("${url}", credential, { allowInsecureConnection: true, disableChallengeResourceVerification: true })`,
  },
} as const;

/** `keyferry emulate aws|azure`: the local cloud emulators of SPEC section 8. */
export function registerEmulateCommand(program: Command): void {
  program
    .command("emulate")
    .description("run a local, wire-compatible emulator of AWS KMS or Azure Key Vault")
    .argument("<cloud>", "aws or azure")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (default 4599 for aws, 4600 for azure; 0 = any free port)")
    .option("--quota <mode>", "request quotas: real, off, or a scale such as 10x", "off")
    .option(
      "--state <file>",
      "keep the emulator's keys in this JSON file across restarts (holds key material)",
    )
    .option("--latency <ms>", "added latency per request: MS or MIN-MAX")
    .option("--error-rate <fraction>", "fraction of requests failing with a transient server error")
    .option("--throttle-rate <fraction>", "fraction of requests answered as throttled")
    .option(
      "--fail-after-commit <fraction[:mode]>",
      "fraction of changes made and then answered with an error (mode error) or a dropped connection (mode drop)",
    )
    .option("--fault-operations <list>", "comma-separated operations the faults apply to (default: all)")
    .option("--managed-hsm", "azure: behave as a Managed HSM (allows oct-HSM keys)")
    .option("--purge-delay <ms>", "azure: how long a purged name stays unusable", "0")
    .option("--log-level <level>", "log level", "info")
    .action(async (cloud: string, flags: EmulateFlags) => {
      if (cloud !== "aws" && cloud !== "azure")
        throw new Error(`cloud must be "aws" or "azure" (got "${cloud}")`);
      const emulator = EMULATORS[cloud];
      if (!(LOG_LEVELS as readonly string[]).includes(flags.logLevel)) {
        throw new Error(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
      }
      const logger = createLogger({ level: flags.logLevel as LogLevel, name: `keyferry-emulate-${cloud}` });
      const port = Number(flags.port ?? emulator.defaultPort);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535`);
      const running: RunningEmulator = await emulator.start({
        host: flags.host,
        port,
        quota: parseQuotaMode(flags.quota),
        faults: parseFaultOptions(flags),
        ...(flags.state ? { stateFile: flags.state } : {}),
        logger,
        ...(cloud === "azure"
          ? { managedHsm: flags.managedHsm === true, purgeDelayMs: Number(flags.purgeDelay) }
          : {}),
      });
      process.stderr.write(`${emulator.describe(running.url)}\n`);
      stopOnSignals(running.close, logger, 5_000);
    });
}
