import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, SECRET_FIELDS } from "../src/logger.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ level: "trace" }, stream) };
}

describe("logger redaction", () => {
  it("removes every secret-bearing field at any of the depths keyferry logs", () => {
    const { lines, logger } = capture();
    for (const field of SECRET_FIELDS) {
      const value = `SECRET-${field}-VALUE`;
      logger.info({ [field]: value }, "top");
      logger.info({ job: { [field]: value } }, "one deep");
      logger.info({ job: { data: { [field]: value } } }, "two deep");
      logger.info({ req: { headers: { nested: { [field]: value } } } }, "three deep");
    }
    const output = lines.join("");
    expect(output).not.toMatch(/SECRET-/);
    expect(output.match(/\[redacted\]/g)).toHaveLength(SECRET_FIELDS.length * 4);
  });

  it("keeps the fields operators need, and child loggers redact too", () => {
    const { lines, logger } = capture();
    const child = logger.child({ operationId: "op-1", key: "payments", kms: "aws-prod", step: "import" });
    child.info({ attempt: 2, credentials: { secretAccessKey: "AKIA-SECRET" } }, "importing");
    const entry = JSON.parse(lines[0] ?? "{}");
    expect(entry).toMatchObject({
      operationId: "op-1",
      key: "payments",
      kms: "aws-prod",
      step: "import",
      attempt: 2,
    });
    expect(entry.credentials).toBe("[redacted]");
    expect(lines[0]).not.toContain("AKIA-SECRET");
  });
});
