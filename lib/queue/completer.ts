// Batches completions: every event finished while a write is in flight goes into the next
// bulkWrite, so a burst of completions shares one majority (journal) wait instead of one each.
import type { Db } from 'mongodb';
import { completeMany, type Claimed } from './settle.js';

interface Item {
  claim: Claimed;
  result: unknown;
  done(ok: boolean): void;
  fail(e: unknown): void;
}

export class Completer {
  private queue: Item[] = [];
  private flushing = false;

  constructor(
    private readonly db: Db,
    private readonly retentionMs: number,
    private readonly maxBatch = 500,
  ) {}

  /** Resolves true once written, false if the write was refused (the lease was lost). */
  complete(claim: Claimed, result: unknown): Promise<boolean> {
    return new Promise((done, fail) => {
      this.queue.push({ claim, result, done, fail });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      // Bounded: each round takes at least one item off the queue, and only this loop takes them.
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const refused = new Set((await completeMany(this.db, batch, this.retentionMs)).map((c) => `${c._id}:${c.owner}`));
          for (const i of batch) i.done(!refused.has(`${i.claim._id}:${i.claim.owner}`));
        } catch (e) {
          for (const i of batch) i.fail(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
