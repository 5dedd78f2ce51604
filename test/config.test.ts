import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, redactUrl } from "../src/config.js";

const base = {
  DATABASE_URL: "postgres://postgres@127.0.0.1:5432/keyferry",
  KEYFERRY_ROOT_KEY: Buffer.alloc(32, 7).toString("base64"),
};

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  it("reads a minimal environment and fills the non-secret defaults", () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      databaseUrl: base.DATABASE_URL,
      redisUrl: "redis://127.0.0.1:6379",
      redisPrefix: "{keyferry}",
      rootKey: { base64: base.KEYFERRY_ROOT_KEY },
      previousRootKeys: [],
      adminToken: undefined,
      host: "127.0.0.1",
      port: 8080,
      logLevel: "info",
    });
    expect(config.worker.concurrency).toBeGreaterThan(0);
  });

  it("names every bad variable once, without echoing values", () => {
    const secret = "short-secret-value";
    const found = problems({
      DATABASE_URL: "mysql://x",
      KEYFERRY_PORT: "99999",
      LOG_LEVEL: "loud",
      KEYFERRY_ADMIN_TOKEN: secret,
      REDIS_URL: "not a url",
    });
    expect(found.map((p) => p.split(":")[0])).toEqual(
      expect.arrayContaining([
        "DATABASE_URL",
        "KEYFERRY_PORT",
        "LOG_LEVEL",
        "KEYFERRY_ADMIN_TOKEN",
        "REDIS_URL",
        "KEYFERRY_ROOT_KEY or KEYFERRY_ROOT_KEY_FILE",
      ]),
    );
    expect(found.join("\n")).not.toContain(secret);
  });

  it("requires DATABASE_URL and exactly one root key source", () => {
    expect(problems({ KEYFERRY_ROOT_KEY: base.KEYFERRY_ROOT_KEY })).toEqual(["DATABASE_URL: is required"]);
    expect(problems({ ...base, KEYFERRY_ROOT_KEY_FILE: "/etc/keyferry/root" })).toEqual([
      "KEYFERRY_ROOT_KEY and KEYFERRY_ROOT_KEY_FILE: set only one of them",
    ]);
    expect(loadConfig({ DATABASE_URL: base.DATABASE_URL, KEYFERRY_ROOT_KEY_FILE: "/r" }).rootKey).toEqual({
      file: "/r",
    });
  });

  it("treats empty variables as unset and splits previous root keys", () => {
    const config = loadConfig({ ...base, KEYFERRY_PORT: "", KEYFERRY_PREVIOUS_ROOT_KEYS: " a= , b= ," });
    expect(config.port).toBe(8080);
    expect(config.previousRootKeys).toEqual(["a=", "b="]);
  });

  it("hides passwords in URLs", () => {
    expect(redactUrl("postgres://kf:hunter2@db:5432/kf")).toBe("postgres://kf:***@db:5432/kf");
    expect(redactUrl("nonsense")).toBe("<unparseable url>");
  });
});
