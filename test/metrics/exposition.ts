/**
 * A small reader of the Prometheus text exposition format (version 0.0.4, what prom-client writes): HELP and
 * TYPE lines per family, and samples with their labels. Enough for tests to ask "how much of X".
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
  /** Samples of `name`, optionally those whose labels include `where`. */
  select(name: string, where?: Record<string, string>): Sample[];
  /** The sum of those samples' values (0 when there are none). */
  sum(name: string, where?: Record<string, string>): number;
}

const SAMPLE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

const unescapeLabel = (value: string) => value.replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c));

export function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      (kind === "HELP" ? help : type).set(name, rest);
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const [, name = "", labelText = "", raw = ""] = match;
    const labels: Record<string, string> = {};
    for (const [, label = "", value = ""] of labelText.matchAll(LABEL)) labels[label] = unescapeLabel(value);
    const value =
      raw === "+Inf" ? Number.POSITIVE_INFINITY : raw === "-Inf" ? Number.NEGATIVE_INFINITY : Number(raw);
    samples.push({ name, labels, value });
  }
  const select = (name: string, where: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  return {
    help,
    type,
    samples,
    select,
    sum: (name, where) => select(name, where).reduce((total, s) => total + s.value, 0),
  };
}
