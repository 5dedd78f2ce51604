import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_FOLDER, runMigrations } from "../../src/db/migrate.js";
import { createTestDatabase } from "../helpers/database.js";

const run = promisify(execFile);

async function tables(db: Awaited<ReturnType<typeof createTestDatabase>>["db"]): Promise<string[]> {
  const result = await db.execute<{ table_name: string }>(
    sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
  );
  return result.rows.map((r) => r.table_name);
}

describe("migrations", () => {
  it("apply to an empty database, then again as a no-op", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      expect(await tables(database.db)).toEqual([]);
      await runMigrations(database.url);
      const after = await tables(database.db);
      expect(after).toEqual([
        "api_tokens",
        "distribution_versions",
        "distributions",
        "idempotency_records",
        "key_versions",
        "keys",
        "kms",
        "ledger_entries",
        "ledger_pending",
        "operation_steps",
        "operations",
        "outbox",
      ]);
      await runMigrations(database.url);
      expect(await tables(database.db)).toEqual(after);
      const applied = await database.db.execute(
        sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`,
      );
      const files = (await readdir(MIGRATIONS_FOLDER)).filter((f) => f.endsWith(".sql"));
      expect(applied.rows[0]).toEqual({ n: files.length });
    } finally {
      await database.close();
    }
  });

  it("are safe when several processes start at once", async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      await Promise.all(Array.from({ length: 6 }, () => runMigrations(database.url)));
      const applied = await database.db.execute(
        sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`,
      );
      const files = (await readdir(MIGRATIONS_FOLDER)).filter((f) => f.endsWith(".sql"));
      expect(applied.rows[0]).toEqual({ n: files.length });
    } finally {
      await database.close();
    }
  });

  it("match the schema (drizzle-kit check is clean and generate finds nothing new)", async () => {
    const bin = join(process.cwd(), "node_modules", ".bin", "drizzle-kit");
    const check = await run(bin, ["check"], { cwd: process.cwd() });
    expect(check.stdout + check.stderr).toMatch(/Everything's fine/);

    const copy = await mkdtemp(join(tmpdir(), "kf-migrations-"));
    try {
      await cp(MIGRATIONS_FOLDER, copy, { recursive: true });
      const generate = await run(
        bin,
        [
          "generate",
          "--dialect",
          "postgresql",
          "--schema",
          "./src/db/schema/index.ts",
          "--out",
          relative(process.cwd(), copy),
        ],
        { cwd: process.cwd() },
      );
      // drizzle-kit reads --out relative to the working directory.
      expect(generate.stdout + generate.stderr).toMatch(/No schema changes/);
      expect(await readdir(copy)).toEqual(await readdir(MIGRATIONS_FOLDER));
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});
