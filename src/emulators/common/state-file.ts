import { chmod, readFile, rename, writeFile } from "node:fs/promises";

/**
 * An emulator's state kept in a JSON file so that it can be restarted without losing keys. Writes are
 * coalesced (one write in flight, one more queued) and atomic (temporary file, then rename). The file
 * holds the emulated cloud's key material: it is written readable by its owner only.
 */
export class StateFile<T> {
  private writing: Promise<void> = Promise.resolve();
  private queued = false;

  constructor(
    readonly path: string,
    private readonly snapshot: () => T,
  ) {}

  async load(): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.path, "utf8")) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`cannot read emulator state from ${this.path}: ${(error as Error).message}`);
    }
  }

  /** Save soon; returns when a save that includes every change made before the call has finished. */
  save(): Promise<void> {
    if (this.queued) return this.writing;
    this.queued = true;
    // A failed write must not poison later ones: each save tries again with the newest state.
    this.writing = this.writing
      .catch(() => {})
      .then(async () => {
        this.queued = false;
        const temporary = `${this.path}.${process.pid}.tmp`;
        await writeFile(temporary, JSON.stringify(this.snapshot()), { mode: 0o600 });
        await chmod(temporary, 0o600);
        await rename(temporary, this.path);
      });
    return this.writing;
  }
}
