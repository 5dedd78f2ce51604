import type { StepJournal } from "../../src/providers/kms-provider.js";

/**
 * An in-memory StepJournal, as the operations engine keeps one in a step's detail: values go through JSON,
 * as they would on their way to PostgreSQL, so an entry that could not be stored fails here too.
 */
export interface MemoryJournal extends StepJournal {
  readonly entries: Map<string, Record<string, unknown>>;
  /** Every put, in order: `[entry, value]`. */
  readonly writes: Array<[string, Record<string, unknown>]>;
}

export function memoryJournal(): MemoryJournal {
  const entries = new Map<string, Record<string, unknown>>();
  const writes: Array<[string, Record<string, unknown>]> = [];
  return {
    entries,
    writes,
    get: (entry) => {
      const value = entries.get(entry);
      return value === undefined ? undefined : structuredClone(value);
    },
    put: async (entry, value) => {
      const stored = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
      entries.set(entry, stored);
      writes.push([entry, stored]);
    },
  };
}
