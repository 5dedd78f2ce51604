/** Small timing helpers for the benchmarks: each figure is compared with its twin measured in the same run. */
export interface Measurement {
  name: string;
  ops: number;
  seconds: number;
  perSecond: number;
}

export async function measure(
  name: string,
  ops: number,
  body: () => Promise<void> | void,
): Promise<Measurement> {
  const start = process.hrtime.bigint();
  await body();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { name, ops, seconds, perSecond: ops / seconds };
}

export interface Comparison {
  benchmark: string;
  subject: Measurement;
  baseline: Measurement;
  /** subject rate / baseline rate: above 1 means the subject is faster. */
  ratio: number;
}

export function compare(benchmark: string, subject: Measurement, baseline: Measurement): Comparison {
  return { benchmark, subject, baseline, ratio: subject.perSecond / baseline.perSecond };
}

export function table(rows: readonly Comparison[]): string {
  const fmt = (m: Measurement) =>
    `${m.name}: ${m.perSecond.toFixed(1)}/s (${m.ops} in ${m.seconds.toFixed(2)} s)`;
  return rows
    .map(
      (r) =>
        `${r.benchmark.padEnd(28)} ${r.ratio.toFixed(2).padStart(7)}x   ${fmt(r.subject)}  vs  ${fmt(r.baseline)}`,
    )
    .join("\n");
}
