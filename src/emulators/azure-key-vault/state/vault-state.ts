import { beingDeleted, deletedButRecoverable, deletedKeyNotFound, keyNotFound } from "../errors.js";
import { type DeletionInfo, type KeyVersion, latestVersion, type StoredKey } from "./model.js";

/** Soft-deleted keys are kept this long unless purged, as in a vault with the default retention. */
export const RECOVERABLE_DAYS = 90;
const DAY_SECONDS = 86_400;

/**
 * The keys of one vault and the rules about names: a soft-deleted name cannot be reused until it is
 * recovered or purged, and a purged name stays unusable while the (emulated) asynchronous purge runs.
 * Everything here is synchronous, so one request's checks and changes happen without interleaving.
 */
export class VaultState {
  private readonly keys = new Map<string, StoredKey>();
  /** Name → epoch milliseconds until which a purge is still "in progress". */
  private readonly purging = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly purgeDelayMs: number,
  ) {}

  /** An active (not deleted) key, or KeyNotFound. */
  activeKey(name: string): StoredKey {
    const key = this.lookup(name);
    if (!key || key.deleted) throw keyNotFound(name);
    return key;
  }

  /** A version of an active key; `""` is the latest. */
  activeVersion(name: string, version: string): KeyVersion {
    const key = this.activeKey(name);
    if (version === "") return latestVersion(key);
    const found = key.versions.find((v) => v.version === version);
    if (!found) throw keyNotFound(name, version);
    return found;
  }

  /** Best effort, for choosing a quota bucket before the operation runs: no errors, no side effects. */
  peekVersion(name: string, version: string): KeyVersion | undefined {
    const key = this.keys.get(name);
    if (!key || key.versions.length === 0) return undefined;
    return version === "" ? latestVersion(key) : key.versions.find((v) => v.version === version);
  }

  deletedKey(name: string): StoredKey & { deleted: DeletionInfo } {
    const key = this.lookup(name);
    if (!key?.deleted) throw deletedKeyNotFound(name);
    return key as StoredKey & { deleted: DeletionInfo };
  }

  /** Create and import add a version under a name; refused while the name is deleted or being purged. */
  addVersion(name: string, version: KeyVersion): StoredKey {
    const existing = this.lookup(name);
    if (existing?.deleted) throw deletedButRecoverable(name);
    if (this.isPurging(name)) throw beingDeleted(name);
    const key = existing ?? { name, versions: [] };
    key.versions.push(version);
    this.keys.set(name, key);
    return key;
  }

  /** Refuse early (before expensive work such as generating an RSA key) what addVersion would refuse. */
  checkNameUsable(name: string): void {
    const existing = this.lookup(name);
    if (existing?.deleted) throw deletedButRecoverable(name);
    if (this.isPurging(name)) throw beingDeleted(name);
  }

  softDelete(name: string): StoredKey & { deleted: DeletionInfo } {
    const key = this.activeKey(name);
    const deletedDate = Math.floor(this.now() / 1000);
    key.deleted = { deletedDate, scheduledPurgeDate: deletedDate + RECOVERABLE_DAYS * DAY_SECONDS };
    return key as StoredKey & { deleted: DeletionInfo };
  }

  recover(name: string): StoredKey {
    const key = this.deletedKey(name);
    delete (key as StoredKey).deleted;
    return key;
  }

  purge(name: string): void {
    this.deletedKey(name);
    this.keys.delete(name);
    if (this.purgeDelayMs > 0) this.purging.set(name, this.now() + this.purgeDelayMs);
  }

  /** Active keys sorted by name, as the service lists them. */
  activeKeys(): StoredKey[] {
    return this.sorted().filter((key) => !key.deleted);
  }

  deletedKeys(): Array<StoredKey & { deleted: DeletionInfo }> {
    return this.sorted().filter((key): key is StoredKey & { deleted: DeletionInfo } => !!key.deleted);
  }

  /** For persistence: everything, deleted keys included, and the purges still in progress. */
  all(): { keys: StoredKey[]; purging: Array<[string, number]> } {
    this.expire();
    return { keys: [...this.keys.values()], purging: [...this.purging.entries()] };
  }

  restore(keys: StoredKey[], purging: Array<[string, number]>): void {
    this.keys.clear();
    this.purging.clear();
    for (const key of keys) this.keys.set(key.name, key);
    for (const [name, until] of purging) this.purging.set(name, until);
  }

  private lookup(name: string): StoredKey | undefined {
    this.expire();
    return this.keys.get(name);
  }

  private isPurging(name: string): boolean {
    this.expire();
    return this.purging.has(name);
  }

  private sorted(): StoredKey[] {
    this.expire();
    return [...this.keys.values()].sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
  }

  /** The service purges a soft-deleted key on its scheduled date; purges in progress finish after the delay. */
  private expire(): void {
    const nowMs = this.now();
    for (const [name, key] of this.keys) {
      if (key.deleted && key.deleted.scheduledPurgeDate * 1000 <= nowMs) this.keys.delete(name);
    }
    for (const [name, until] of this.purging) {
      if (until <= nowMs) this.purging.delete(name);
    }
  }
}
