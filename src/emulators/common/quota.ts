/**
 * Request quotas as the clouds publish them, applied by the emulators so that keyferry's pacing can be
 * tested against them. Each bucket is a token bucket holding `requests` tokens and refilling them evenly
 * over `perSeconds` (AWS publishes per-second rates, Azure per-10-second windows).
 */
export interface QuotaRule {
  requests: number;
  perSeconds: number;
}

/** `off`: no limits; `scale`: the published quotas multiplied (1 = as published, 10 = ten times as many). */
export type QuotaMode = { kind: "off" } | { kind: "scaled"; scale: number };

export type QuotaDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Parse `real`, `off`, `10x` or `10` (the same as `10x`), `0.5x`. */
export function parseQuotaMode(text: string): QuotaMode {
  const value = text.trim().toLowerCase();
  if (value === "off") return { kind: "off" };
  if (value === "real") return { kind: "scaled", scale: 1 };
  const match = /^(\d+(?:\.\d+)?)x?$/.exec(value);
  const scale = match ? Number(match[1]) : Number.NaN;
  if (!(scale > 0)) throw new Error(`quota must be "real", "off" or a scale such as "10x" (got "${text}")`);
  return { kind: "scaled", scale };
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class QuotaLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private mode: QuotaMode;
  /** Throttled answers per bucket, for tests and benchmarks. */
  readonly throttled = new Map<string, number>();
  /** Allowed requests per bucket. */
  readonly allowed = new Map<string, number>();
  /** When each bucket allowed its requests (ms; the first 10,000), for measuring achieved rates. */
  readonly times = new Map<string, number[]>();

  constructor(
    private readonly rules: Readonly<Record<string, QuotaRule>>,
    mode: QuotaMode = { kind: "off" },
    private readonly now: () => number = Date.now,
  ) {
    this.mode = mode;
  }

  setMode(mode: QuotaMode): void {
    this.mode = mode;
    this.buckets.clear();
  }

  getMode(): QuotaMode {
    return this.mode;
  }

  /** Take one token from `bucket` (a name of `rules`; unknown buckets are unlimited). */
  take(bucket: string): QuotaDecision {
    const rule = this.rules[bucket];
    if (this.mode.kind === "off" || rule === undefined)
      return this.count(this.allowed, bucket, { allowed: true });
    const capacity = Math.max(1, rule.requests * this.mode.scale);
    const perMs = capacity / (rule.perSeconds * 1000);
    const now = this.now();
    const state = this.buckets.get(bucket) ?? { tokens: capacity, updatedMs: now };
    state.tokens = Math.min(capacity, state.tokens + (now - state.updatedMs) * perMs);
    state.updatedMs = now;
    this.buckets.set(bucket, state);
    // The epsilon absorbs floating-point drift, which would otherwise lose a token now and then.
    if (state.tokens >= 1 - 1e-9) {
      state.tokens -= 1;
      return this.count(this.allowed, bucket, { allowed: true });
    }
    const retryAfterMs = Math.max(1, Math.ceil((1 - state.tokens) / perMs));
    return this.count(this.throttled, bucket, { allowed: false, retryAfterMs });
  }

  private count(map: Map<string, number>, bucket: string, decision: QuotaDecision): QuotaDecision {
    map.set(bucket, (map.get(bucket) ?? 0) + 1);
    if (decision.allowed) {
      const times = this.times.get(bucket) ?? [];
      if (times.length < 10_000) times.push(this.now());
      this.times.set(bucket, times);
    }
    return decision;
  }
}
