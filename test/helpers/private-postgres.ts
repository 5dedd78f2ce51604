import { execFile } from "node:child_process";
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./private-redis.js";

/**
 * A PostgreSQL 15 cluster of the test's own, so that a test can restart, stop or freeze it without
 * disturbing the other test files, which share the one on port 5432. Durability is off (fsync,
 * synchronous_commit, full_page_writes): the cluster is thrown away, and a test that stops it with
 * `-m fast` loses nothing that was committed anyway.
 */
export interface PrivatePostgres {
  port: number;
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication). */
  adminUrl: string;
  /** Create a database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl restart -m fast`, then wait until it accepts connections. */
  restart(): Promise<void>;
  /** `pg_ctl stop -m fast` (thaws it first; nothing when already stopped). */
  stop(): Promise<void>;
  /** Start it again after `stop()` and wait until it accepts connections. */
  start(): Promise<void>;
  /** SIGSTOP the postmaster and every process of the cluster: connections open, nothing answers. */
  freeze(): Promise<void>;
  /** SIGCONT what `freeze()` stopped. */
  thaw(): Promise<void>;
  /** Thaw, stop and remove its directory; never throws. */
  destroy(): Promise<void>;
}

const BIN = "/usr/lib/postgresql/15/bin";
const run = promisify(execFile);

/** Every server program must run as the `postgres` OS user (initdb and postgres refuse root). */
async function asPostgres(cwd: string, program: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run("runuser", ["-u", "postgres", "--", join(BIN, program), ...args], {
      cwd,
      timeout: 120_000,
    });
    return stdout;
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${program} ${args.join(" ")} failed: ${stderr || stdout || String(error)}`);
  }
}

/** Whether a fresh connection gets an answer to `SELECT 1` (not just that the postmaster is up). */
async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function waitUntilAnswering(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await answers(url))) {
    if (Date.now() > deadline) throw new Error(`private PostgreSQL at ${url} does not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The postmaster's pid, from the first line of `postmaster.pid`; undefined when it is not running. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const firstLine = (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0] ?? "";
    const pid = Number.parseInt(firstLine, 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (every backend and auxiliary process of a cluster is the postmaster's child). */
async function childrenOf(pid: number): Promise<number[]> {
  try {
    const { stdout } = await run("ps", ["-o", "pid=", "--ppid", String(pid)]);
    return stdout
      .split("\n")
      .map((line) => Number.parseInt(line.trim(), 10))
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return []; // ps exits 1 when there is no child
  }
}

function signal(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // gone meanwhile (a backend whose client left)
    }
  }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "kf-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const host = "127.0.0.1";
  const adminUrl = `postgres://postgres@${host}:${port}/postgres`;
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    `-c listen_addresses=${host}`,
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200",
  ].join(" ");
  let frozen: number[] = [];

  const pgCtl = (args: string[]) => asPostgres(dir, "pg_ctl", ["-D", data, ...args]);
  const running = async () => {
    try {
      await pgCtl(["status"]);
      return true;
    } catch {
      return false; // exit 3: not running (4: no data directory)
    }
  };
  const start = async () => {
    await pgCtl(["-o", serverOptions, "-l", log, "-w", "-t", "60", "start"]);
    await waitUntilAnswering(adminUrl);
  };
  const thaw = async () => {
    // Children first, so that the postmaster, once running, finds its children running too.
    signal([...frozen].reverse(), "SIGCONT");
    frozen = [];
  };
  const stop = async () => {
    await thaw();
    if (await running()) await pgCtl(["-m", "fast", "-w", "-t", "60", "stop"]);
  };

  const owner = await osUser("postgres");
  await chown(dir, owner.uid, owner.gid);
  await asPostgres(dir, "initdb", [
    "-D",
    data,
    "-A",
    "trust",
    "-U",
    "postgres",
    "--encoding=UTF8",
    "--locale=C",
    "--no-sync",
  ]);
  await start();

  return {
    port,
    adminUrl,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: adminUrl });
      client.on("error", () => {});
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@${host}:${port}/${name}`;
    },
    async restart() {
      await thaw();
      await pgCtl(["-o", serverOptions, "-l", log, "-m", "fast", "-w", "-t", "60", "restart"]);
      await waitUntilAnswering(adminUrl);
    },
    stop,
    start,
    async freeze() {
      if (frozen.length > 0) return;
      const postmaster = await postmasterPid(data);
      if (postmaster === undefined) throw new Error("private PostgreSQL is not running; cannot freeze it");
      // The postmaster first, so that it forks no new backend while its children are being stopped.
      signal([postmaster], "SIGSTOP");
      const children = await childrenOf(postmaster);
      signal(children, "SIGSTOP");
      frozen = [postmaster, ...children];
    },
    thaw,
    async destroy() {
      try {
        await stop();
      } catch {
        // Stop failed (or was never possible): make sure no process of ours outlives the test.
        const postmaster = await postmasterPid(data);
        if (postmaster !== undefined) signal([postmaster], "SIGKILL");
      }
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}

/** The uid and gid of an OS user, from `id` (Node has no getpwnam). */
async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const [u, g] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
  return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
}
