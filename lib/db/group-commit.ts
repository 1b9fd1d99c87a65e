// Group commit: items submitted concurrently are handed to one `commit` call in batches, so N
// requests share one transaction (and one majority-journaled commit) instead of paying for N.
// Adaptive, with no timer to tune: while fewer than `concurrency` commits are in flight, what
// arrived in the same event-loop turn is committed at once (a lone request waits for nothing);
// while they are all busy, new items queue up and form the next batch. Each item gets its own
// outcome: `commit` answers per item, so one item's failure is only that item's.

/** What `commit` answers for one item. */
export type Outcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** Most items in one batch. */
  maxBatch: number;
  /** Most batches committing at once. */
  concurrency: number;
}

interface Waiting<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

export class GroupCommit<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private running = 0;
  private scheduled = false;
  /** Sizes of the batches committed so far (for metrics): count and sum. */
  readonly batches = { count: 0, items: 0 };

  constructor(
    private readonly commit: (items: I[]) => Promise<Outcome<O>[]>,
    private readonly opts: GroupCommitOptions,
  ) {}

  /** Resolves with this item's value once its batch committed, or rejects with its own error. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.opts.concurrency || this.queue.length === 0) return;
    this.scheduled = true;
    // setImmediate, not a microtask: requests parsed in this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < this.opts.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.running++;
      this.batches.count++;
      this.batches.items += batch.length;
      void this.run(batch).finally(() => {
        this.running--;
        this.schedule();
      });
    }
  }

  private async run(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const outcomes = await this.commit(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        const o = outcomes[i];
        if (!o) w.reject(new Error(`group commit answered ${outcomes.length} outcomes for ${batch.length} items`));
        else if (o.ok) w.resolve(o.value);
        else w.reject(o.error);
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
