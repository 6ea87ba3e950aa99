import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../../common/errors.ts';

// One process per data directory: a second one would corrupt the embedded stores. The lock is an
// exclusive SQLite transaction on `promptline.lock`, held for as long as the process runs. SQLite
// locks through the kernel (fcntl), so the lock goes when the process does, however it ends (kill
// -9, a crash, a reboot): no pid to check, none that another process may have taken since. A
// process that finds the lock held waits for it a while (a supervisor restarting a server it has
// just killed may start the new one while the old one is still exiting), then gives up with the
// pid the holder wrote to `promptline.pid` beside it.

export const LOCK_FILE = 'promptline.lock';
export const PID_FILE = 'promptline.pid';

/** How long a start waits for a lock held by another process. */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** Held locks: a connection no one refers to would be collected, and its lock let go with it. */
const held = new Set<DatabaseSync>();

const isBusy = (err: unknown): boolean => /database is locked|SQLITE_BUSY/i.test(err instanceof Error ? err.message : String(err));

function holderPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, PID_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Takes the data directory's lock, waiting up to `waitMs` for another process to let it go; returns the release. */
export function lockDataDir(dataDir: string, waitMs = DEFAULT_LOCK_WAIT_MS): () => void {
  const file = join(dataDir, LOCK_FILE);
  // Made readable by its owner only, as every file in the data directory.
  closeSync(openSync(file, 'a', 0o600));
  const db = new DatabaseSync(file, { timeout: waitMs });
  try {
    db.exec('PRAGMA journal_mode = DELETE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if (!isBusy(err)) throw err;
    const pid = holderPid(dataDir);
    const by = pid === null ? 'another Promptline process' : `another Promptline process (pid ${pid})`;
    throw new ConfigError(`the data directory ${dataDir} is in use by ${by}, still after ${Math.round(waitMs / 1000)} s; stop it or choose another PROMPTLINE_DATA_DIR`);
  }
  const pidFile = join(dataDir, PID_FILE);
  writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  held.add(db);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      if (holderPid(dataDir) === process.pid) unlinkSync(pidFile);
    } catch {
      // already gone
    }
    held.delete(db);
    db.close();
  };
}
