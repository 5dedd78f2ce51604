/**
 * Overwrite buffers that held secrets. JavaScript cannot promise that no copy exists elsewhere (the GC may
 * have moved bytes, OpenSSL keeps its own), but every buffer keyferry owns is cleared as soon as it is
 * no longer needed, so that secrets do not linger in long-lived heap memory.
 */
export function zero(...buffers: Array<Uint8Array | undefined | null>): void {
  for (const buffer of buffers) buffer?.fill(0);
}
