// Bounded, fire-and-forget recording for a hot path (refused intake requests): the caller never
// waits and never sees a recording error. Occurrences of an entry whose write is already in
// flight on this instance are counted and folded into ONE follow-up write, and at most `maxKeys`
// entries are written at once (beyond that, occurrences are dropped and counted): a flood of bad
// requests costs at most one write in flight per entry, never one write per request.
import { keyOf } from './record.js';
import type { Occurrence } from './types.js';

export interface CoalescerOptions {
  /** Writes `o` standing for `times` occurrences (recordError). */
  write(o: Occurrence, times: number): Promise<void>;
  /** Distinct entries written at once on this instance. */
  maxKeys: number;
  onError(err: unknown): void;
}

interface Pending {
  /** Occurrences that arrived while the entry's write was in flight. */
  extra: number;
  latest: Occurrence;
}

export class CoalescingRecorder {
  private readonly inFlight = new Map<string, Pending>();
  /** Occurrences dropped because `maxKeys` entries were being written (for logs and tests). */
  dropped = 0;

  constructor(private readonly opts: CoalescerOptions) {}

  /** Records `o` in the background; returns at once. */
  record(o: Occurrence): void {
    const key = keyOf(o);
    const pending = this.inFlight.get(key);
    if (pending) {
      pending.extra += 1;
      pending.latest = o;
      return;
    }
    if (this.inFlight.size >= this.opts.maxKeys) {
      this.dropped += 1;
      return;
    }
    const p: Pending = { extra: 0, latest: o };
    this.inFlight.set(key, p);
    void this.drain(key, p, o, 1);
  }

  /** Entries being written now. */
  get busy(): number {
    return this.inFlight.size;
  }

  private async drain(key: string, p: Pending, first: Occurrence, firstTimes: number): Promise<void> {
    let o = first;
    let times = firstTimes;
    for (;;) {
      try {
        await this.opts.write(o, times);
      } catch (e) {
        this.opts.onError(e);
      }
      if (p.extra === 0) break;
      times = p.extra;
      o = p.latest;
      p.extra = 0;
    }
    this.inFlight.delete(key);
  }
}
