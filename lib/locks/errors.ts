/** withLock could not acquire the lock within waitMs. */
export class LockUnavailableError extends Error {
  constructor(
    readonly key: string,
    readonly waitedMs: number,
  ) {
    super(`lock "${key}" is held by another owner (waited ${waitedMs} ms)`);
    this.name = 'LockUnavailableError';
  }
}

/** A write guarded by a fencing number was refused: a holder with a newer number has taken over. */
export class StaleFenceError extends Error {
  constructor(
    readonly key: string,
    readonly fence: number,
  ) {
    super(`fenced write refused for lease "${key}" with fence ${fence}: a newer holder has written`);
    this.name = 'StaleFenceError';
  }
}
