export * from "./distributions.js";
export * from "./idempotency.js";
export * from "./keys.js";
export * from "./kms.js";
export * from "./ledger.js";
export * from "./operations.js";
export * from "./outbox.js";
export * from "./tokens.js";
