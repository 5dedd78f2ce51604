import type { StepJournal } from "../kms-provider.js";

/**
 * The provider's entries in a step's journal. Before each call that is not idempotent an `intent` is
 * written; its result (an ARN, a KeyMaterialId) is written as `done` as soon as it arrives. An intent
 * without a result tells a retry that an earlier attempt may have acted without hearing the answer, so it
 * must look for that effect before acting again. Entries hold ids and names only.
 */

export interface JournalEntry {
  phase: "intent" | "done";
  at: number;
  arn?: string;
  keyMaterialId?: string;
}

export const ENTRY = {
  createKey: (version: number) => `aws-kms:create-key:v${version}`,
  importNewMaterial: (version: number) => `aws-kms:import-new-material:v${version}`,
  rotate: (version: number) => `aws-kms:rotate:v${version}`,
  replicate: (version: number, region: string) => `aws-kms:replicate:v${version}:${region}`,
} as const;

export function readEntry(journal: StepJournal, name: string): JournalEntry | undefined {
  const value = journal.get(name);
  if (value === undefined) return undefined;
  const phase = value.phase === "done" ? "done" : "intent";
  const entry: JournalEntry = { phase, at: typeof value.at === "number" ? value.at : 0 };
  if (typeof value.arn === "string") entry.arn = value.arn;
  if (typeof value.keyMaterialId === "string") entry.keyMaterialId = value.keyMaterialId;
  return entry;
}

export function writeIntent(journal: StepJournal, name: string, now: number): Promise<void> {
  return journal.put(name, { phase: "intent", at: now });
}

export function writeDone(
  journal: StepJournal,
  name: string,
  now: number,
  facts: { arn?: string; keyMaterialId?: string } = {},
): Promise<void> {
  return journal.put(name, { phase: "done", at: now, ...facts });
}
