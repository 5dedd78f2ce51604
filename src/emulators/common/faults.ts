/**
 * Fault injection shared by both emulators: latency, transient errors, throttling, and "fail after
 * commit" (the change is made, then the answer is an error or the connection is dropped), the failure that
 * tests keyferry's resumable steps. Configured from the command line or, in tests, in-process.
 */
export interface FaultConfig {
  /** Extra latency per request, uniformly drawn from [min, max] milliseconds. */
  latencyMs?: { min: number; max: number };
  /** Fraction (0..1) of requests answered with a transient server error before doing anything. */
  errorRate?: number;
  /** Fraction (0..1) of requests answered as throttled, whatever the quota says. */
  throttleRate?: number;
  /** Fraction (0..1) of mutating requests that are carried out and then answered with a failure. */
  failAfterCommitRate?: number;
  /** How a failure after commit is answered: a server error, or a connection closed with no answer. */
  failAfterCommitMode?: "error" | "drop";
  /** Only these operations are affected (all when absent). AWS: `CreateKey`; Azure: `importKey`, ... */
  operations?: readonly string[];
}

export type BeforeDecision =
  | { kind: "proceed" }
  | { kind: "throttle"; retryAfterMs: number }
  | { kind: "error" };
export type AfterDecision = "answer" | "error" | "drop";

interface Scheduled {
  remaining: number;
  operation: string | undefined;
  retryAfterMs: number;
  mode: "error" | "drop";
}

export class FaultInjector {
  private config: FaultConfig = {};
  private readonly throttles: Scheduled[] = [];
  private readonly errorsBefore: Scheduled[] = [];
  private readonly failuresAfter: Scheduled[] = [];
  /** What was injected, by kind, for tests to assert on. */
  readonly injected = { throttle: 0, error: 0, afterCommit: 0 };

  constructor(private readonly random: () => number = Math.random) {}

  configure(config: FaultConfig): void {
    this.config = { ...config };
  }

  reset(): void {
    this.config = {};
    this.throttles.length = 0;
    this.errorsBefore.length = 0;
    this.failuresAfter.length = 0;
  }

  /** Throttle the next `count` requests (of `operation`, or any), asking for `retryAfterMs`. */
  throttleNext(count: number, options: { operation?: string; retryAfterMs?: number } = {}): void {
    this.throttles.push({
      remaining: count,
      operation: options.operation,
      retryAfterMs: options.retryAfterMs ?? 1000,
      mode: "error",
    });
  }

  /** Fail the next `count` requests (of `operation`, or any) with a transient server error. */
  errorNext(count: number, options: { operation?: string } = {}): void {
    this.errorsBefore.push({
      remaining: count,
      operation: options.operation,
      retryAfterMs: 0,
      mode: "error",
    });
  }

  /** Carry out the next `count` requests of `operation`, then answer with an error or drop the connection. */
  failAfterCommitNext(count: number, options: { operation?: string; mode?: "error" | "drop" } = {}): void {
    this.failuresAfter.push({
      remaining: count,
      operation: options.operation,
      retryAfterMs: 0,
      mode: options.mode ?? "drop",
    });
  }

  /** Before an operation runs: wait the injected latency, then say whether to run it. */
  async before(operation: string): Promise<BeforeDecision> {
    const { latencyMs } = this.config;
    if (latencyMs && latencyMs.max > 0) {
      const ms = latencyMs.min + this.random() * (latencyMs.max - latencyMs.min);
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
    const throttle = this.takeScheduled(this.throttles, operation);
    if (throttle) {
      this.injected.throttle += 1;
      return { kind: "throttle", retryAfterMs: throttle.retryAfterMs };
    }
    if (this.applies(operation) && this.chance(this.config.throttleRate)) {
      this.injected.throttle += 1;
      return { kind: "throttle", retryAfterMs: 1000 };
    }
    if (
      this.takeScheduled(this.errorsBefore, operation) ||
      (this.applies(operation) && this.chance(this.config.errorRate))
    ) {
      this.injected.error += 1;
      return { kind: "error" };
    }
    return { kind: "proceed" };
  }

  /** After an operation changed state: answer normally, or fail the answer. */
  after(operation: string, mutating: boolean): AfterDecision {
    const scheduled = this.takeScheduled(this.failuresAfter, operation);
    if (scheduled) {
      this.injected.afterCommit += 1;
      return scheduled.mode;
    }
    if (mutating && this.applies(operation) && this.chance(this.config.failAfterCommitRate)) {
      this.injected.afterCommit += 1;
      return this.config.failAfterCommitMode ?? "error";
    }
    return "answer";
  }

  private applies(operation: string): boolean {
    return this.config.operations === undefined || this.config.operations.includes(operation);
  }

  private chance(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }

  private takeScheduled(list: Scheduled[], operation: string): Scheduled | undefined {
    const index = list.findIndex((s) => s.operation === undefined || s.operation === operation);
    const found = list[index];
    if (!found) return undefined;
    found.remaining -= 1;
    if (found.remaining <= 0) list.splice(index, 1);
    return found;
  }
}

/** Parse the command line's fault options into a FaultConfig. */
export function parseFaultOptions(options: {
  latency?: string;
  errorRate?: string;
  throttleRate?: string;
  failAfterCommit?: string;
  faultOperations?: string;
}): FaultConfig {
  const config: FaultConfig = {};
  if (options.latency) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(options.latency.trim());
    if (!match) throw new Error(`--latency must be "MS" or "MIN-MAX" (got "${options.latency}")`);
    const min = Number(match[1]);
    config.latencyMs = { min, max: match[2] === undefined ? min : Number(match[2]) };
  }
  const rate = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!(value >= 0 && value <= 1))
      throw new Error(`${name} must be a fraction between 0 and 1 (got "${text}")`);
    return value;
  };
  config.errorRate = rate("--error-rate", options.errorRate);
  config.throttleRate = rate("--throttle-rate", options.throttleRate);
  if (options.failAfterCommit) {
    const [fraction, mode = "error"] = options.failAfterCommit.split(":");
    if (mode !== "error" && mode !== "drop")
      throw new Error(`--fail-after-commit mode must be "error" or "drop"`);
    config.failAfterCommitRate = rate("--fail-after-commit", fraction);
    config.failAfterCommitMode = mode;
  }
  if (options.faultOperations) config.operations = options.faultOperations.split(",").map((s) => s.trim());
  return config;
}
