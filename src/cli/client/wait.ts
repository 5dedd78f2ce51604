import type { ApiClient } from "./api-client.js";

export interface OperationBody {
  id: string;
  type: string;
  state: "queued" | "running" | "succeeded" | "failed" | "canceled";
  key?: string;
  kms?: string;
  steps: Array<{ name: string; state: string; attempts: number }>;
  progress?: { done: number; failed: number; total: number };
  error?: { code: string; message: string };
}

const FINAL = new Set(["succeeded", "failed", "canceled"]);

/**
 * Poll an operation until it is final, drawing its progress on stderr when that is a terminal: a bar for
 * bulk operations ({done, failed, total}, rate and time left), finished steps for single ones.
 */
export async function waitForOperation(
  client: ApiClient,
  id: string,
  options: { intervalMs?: number; timeoutMs?: number } = {},
): Promise<OperationBody> {
  const interval = options.intervalMs ?? 500;
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  for (;;) {
    const operation = await client.request<OperationBody>("GET", `/v1/operations/${encodeURIComponent(id)}`);
    if (tty) process.stderr.write(`\r\x1b[2K${progressLine(operation, Date.now() - started)}`);
    if (FINAL.has(operation.state)) {
      if (tty) process.stderr.write("\n");
      return operation;
    }
    if (Date.now() > deadline)
      throw new Error(`operation ${id} is still ${operation.state}; stopped waiting`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

export function progressLine(operation: OperationBody, elapsedMs: number): string {
  const { progress } = operation;
  if (progress && progress.total > 0) {
    const finished = progress.done + progress.failed;
    const width = 30;
    const filled = Math.round((finished / progress.total) * width);
    const rate = finished / Math.max(elapsedMs / 1000, 0.001);
    const left = rate > 0 ? Math.ceil((progress.total - finished) / rate) : undefined;
    return (
      `${operation.type} [${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
      `${progress.done}/${progress.total} done, ${progress.failed} failed, ${rate.toFixed(1)}/s` +
      (left === undefined ? "" : `, ~${left}s left`)
    );
  }
  const done = operation.steps.filter((s) => s.state === "succeeded").length;
  const current = operation.steps.find((s) => s.state === "running")?.name;
  return `${operation.type} ${operation.state}: ${done}/${operation.steps.length} steps${current ? ` (${current})` : ""}`;
}

/** 0 succeeded; 1 failed or canceled; 3 a bulk run that did part of its work (some children failed). */
export function exitCodeOf(operation: OperationBody): number {
  if (operation.state === "failed" && operation.error?.code === "children_failed") {
    return (operation.progress?.done ?? 0) > 0 ? 3 : 1;
  }
  if (operation.state !== "succeeded") return 1;
  return (operation.progress?.failed ?? 0) > 0 ? 3 : 0;
}
