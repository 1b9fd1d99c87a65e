// The libuv thread pool runs this process's CPU-heavy background work: the API's argon2 password
// verifications (~26 ms of CPU each), and file writes. On a saturated host its 4 threads compete
// with the event loop for the cores on equal terms, and a burst of sign-ins starves the loop that
// answers (and sheds) every other request: measured, requests waited 9–10 s before the instance
// even read them while 2,000 admins signed in (ADR 0028). Lowering the pool threads' scheduling
// priority (a higher nice value; Linux schedules threads, and raising one's own niceness needs no
// privilege) gives the event loop the CPU first; the verifications use what is left.
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setPriority } from 'node:os';

/** The pool threads' names (libuv ≥ 1.45 names them) and their thread ids, from /proc (Linux). */
function poolThreads(): number[] {
  const tids: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    if (name === 'libuv-worker') tids.push(Number(tid));
  }
  return tids;
}

/**
 * Sets the nice value of the libuv pool's threads to `nice` (0 = leave them alone) and answers how
 * many threads it changed; 0 where there is no /proc (not Linux) — the process then runs as before.
 */
export async function lowerThreadPoolPriority(nice: number): Promise<number> {
  if (nice === 0 || process.platform !== 'linux') return 0;
  await stat('.'); // the pool starts with its first job: make sure its threads exist
  const tids = poolThreads();
  for (const tid of tids) setPriority(tid, nice);
  return tids.length;
}
