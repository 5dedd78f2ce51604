import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A real `keyferry worker` in a child process (test/operations/worker-child.ts), for crash tests. */
export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<unknown>;
  /** The last lines it wrote, for failure messages. */
  output: string[];
}

/** Start a worker configured only from `env` (none of this process's keyferry settings leak in). */
export function spawnWorkerProcess(env: Record<string, string>): WorkerProcess {
  return spawnScript(fileURLToPath(new URL("../operations/worker-child.ts", import.meta.url)), [], env);
}

/**
 * A real `keyferry api` or `keyferry worker` (the CLI, with its production defaults), configured only from
 * `env`. An API's URL is `http://127.0.0.1:${KEYFERRY_PORT}`; give it a free port (`freePort`,
 * test/helpers/private-redis.ts).
 */
export function spawnKeyferry(command: "api" | "worker", env: Record<string, string>): WorkerProcess {
  return spawnScript(fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url)), [command], env);
}

function spawnScript(script: string, args: string[], env: Record<string, string>): WorkerProcess {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith("KEYFERRY_") && !["DATABASE_URL", "REDIS_URL", "LOG_LEVEL"].includes(name),
    ),
  );
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    env: { ...inherited, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(String(chunk));
    if (output.length > 200) output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return { child, exited, output };
}

export async function stopWorkerProcess(worker: WorkerProcess, signal: NodeJS.Signals): Promise<void> {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill(signal);
  await worker.exited;
}

/**
 * Poll `probe` until it answers something truthy. Fails at the deadline, or at once when one of `workers`
 * (those that should be alive meanwhile) has exited; the message carries their output.
 */
export async function until<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs: number,
  workers: readonly WorkerProcess[] = [],
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    const dead = workers.find((w) => w.child.exitCode !== null || w.child.signalCode !== null);
    if (Date.now() > deadline || dead) {
      const exit = dead ? ` (a worker exited: ${dead.child.exitCode ?? dead.child.signalCode})` : "";
      const output = workers.map((w) => w.output.join("").slice(-3000)).join("\n---\n");
      throw new Error(`timed out waiting for ${what}${exit}; worker output:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
