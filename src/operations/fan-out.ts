import { type DestinationFailure, DestinationsFailedError } from "./errors.js";

/**
 * Work on every destination at once. One failing destination does not stop or delay the others: the
 * outcome is decided after all of them settled.
 */
export async function fanOut<T>(
  targets: readonly T[],
  nameOf: (target: T) => string,
  work: (target: T) => Promise<unknown>,
): Promise<void> {
  const settled = await Promise.allSettled(targets.map((target) => work(target)));
  const failures: DestinationFailure[] = [];
  settled.forEach((outcome, index) => {
    const target = targets[index];
    if (outcome.status === "rejected" && target !== undefined) {
      failures.push({ kms: nameOf(target), error: outcome.reason });
    }
  });
  if (failures.length > 0) throw new DestinationsFailedError(failures);
}
