import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { generateRootKey } from "../crypto/root-key.js";

/**
 * The dev stack's own defaults, made on first start and kept in a local folder (`.keyferry/` by default):
 * a root key file and an admin token. Nothing here is used unless `keyferry start` runs; production
 * processes get every secret from their environment.
 */
export const DEV_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/keyferry";

async function readOrCreate(path: string, make: () => string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    const value = make();
    await writeFile(path, `${value}\n`, { mode: 0o600, flag: "wx" });
    await chmod(path, 0o600);
    return value;
  }
}

export async function devEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  dir: string,
): Promise<Record<string, string | undefined>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const filled: Record<string, string | undefined> = { ...env };
  filled.DATABASE_URL ||= DEV_DATABASE_URL;
  if (!filled.KEYFERRY_ROOT_KEY && !filled.KEYFERRY_ROOT_KEY_FILE) {
    const file = join(dir, "root-key");
    await readOrCreate(file, generateRootKey);
    filled.KEYFERRY_ROOT_KEY_FILE = file;
  }
  filled.KEYFERRY_ADMIN_TOKEN ||= await readOrCreate(
    join(dir, "admin-token"),
    () => `kf_${randomBytes(32).toString("base64url")}`,
  );
  return filled;
}

/** Create the dev database when the server is there but the database is not. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) {
      // Another process may create it between the look and the create: that is fine.
      await client
        .query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`)
        .catch((error: { code?: string }) => {
          if (error.code !== "42P04") throw error;
        });
    }
  } finally {
    await client.end();
  }
}
