// The invalidation signal of a per-instance cache: ONE change stream on a collection (keys only)
// that reports every inserted, updated, replaced or deleted document's `_id` as soon as the change
// is majority-committed, so a cache can evict it. Used by the session cache
// (server/middleware/session-cache.ts) and the users' access-state cache (lib/domain/users/sessions.ts).
//
// A cache may serve entries only while `open` (the stream is established); on an error the
// watch reports a reset (the cache empties itself) and reopens after `restartDelayMs` with the
// resume token (from now if the history is gone). A read that overlaps a change of the same key
// may have read the old document: take a `ticket()` before the read and cache the result only if
// `unchangedSince(key, ticket)`.
import { type ChangeStream, type Collection, type Document, MongoServerError, type ResumeToken } from 'mongodb';
import type { Logger } from '../logger.js';

/** Change stream errors after which the resume token cannot be used again. */
const HISTORY_LOST = new Set([280, 286]);

export interface KeyWatchOptions {
  /** Names the watch in log lines ("session cache"). */
  label: string;
  /** Also reported per change: narrows the stream, e.g. to updates of some fields ($match on the change event). */
  match?: Document;
  restartDelayMs?: number;
  /** Most keys remembered for `unchangedSince`; past it the log is reset (reads in flight are then not cached). */
  maxRemembered?: number;
}

export interface Ticket {
  seq: number;
  generation: number;
  /** Taken while the stream was open (a read before it opened may predate what it reports). */
  open: boolean;
}

export class KeyWatch<T extends Document = Document> {
  private readonly changedAt = new Map<string, number>();
  private seq = 0;
  private generation = 0;
  private isOpen = false;
  private closed = false;
  private stream: ChangeStream<T> | undefined;
  private token: ResumeToken | undefined;
  private running: Promise<void> | undefined;
  private readonly listeners = new Set<(key: string) => void>();
  private readonly resets = new Set<() => void>();

  constructor(
    private readonly coll: Collection<T>,
    private readonly log: Logger,
    private readonly o: KeyWatchOptions,
  ) {}

  /** Opens the stream (idempotent). */
  start(): this {
    this.running ??= this.run();
    return this;
  }

  /** True while the stream is established: only then may a cache serve what it holds. */
  get open(): boolean {
    return this.isOpen;
  }

  /** Calls `fn` with the key of every change (also changes this process made). */
  onChange(fn: (key: string) => void): void {
    this.listeners.add(fn);
  }

  /** Calls `fn` when the stream failed: whatever a cache holds may be stale. */
  onReset(fn: () => void): void {
    this.resets.add(fn);
  }

  /** Marks `key` as changed now (a write this process made). */
  touched(key: string): void {
    this.seq++;
    if (this.changedAt.size >= (this.o.maxRemembered ?? 50_000)) {
      this.changedAt.clear();
      this.generation++;
    }
    this.changedAt.set(key, this.seq);
  }

  /** Taken before a read whose result may be cached. */
  ticket(): Ticket {
    return { seq: this.seq, generation: this.generation, open: this.isOpen };
  }

  /** The read that took `t` saw the latest state of `key`: the stream was open then and still is, no reset, no change of it since. */
  unchangedSince(key: string, t: Ticket): boolean {
    return t.open && this.isOpen && t.generation === this.generation && (this.changedAt.get(key) ?? -1) <= t.seq;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.isOpen = false;
    await this.stream?.close().catch(() => {});
    await this.running;
  }

  private async run(): Promise<void> {
    const pipeline = [
      { $match: { operationType: { $in: ['insert', 'update', 'replace', 'delete'] }, ...this.o.match } },
      { $project: { documentKey: 1 } },
    ];
    while (!this.closed) {
      const stream = this.coll.watch(pipeline, this.token ? { resumeAfter: this.token } : {});
      this.stream = stream;
      try {
        while (!this.closed) {
          const event = await stream.tryNext(); // the first call establishes the cursor
          this.token = stream.resumeToken ?? this.token;
          if (!this.isOpen && !this.closed) {
            this.isOpen = true;
            this.log.debug(`${this.o.label}: change stream open`);
          }
          const key = (event as { documentKey?: { _id?: unknown } } | null)?.documentKey?._id;
          const id = typeof key === 'string' ? key : key?.toString();
          if (id === undefined) continue;
          this.touched(id);
          for (const fn of this.listeners) fn(id);
        }
      } catch (err) {
        if (this.closed) break;
        this.isOpen = false;
        this.generation++;
        for (const fn of this.resets) fn();
        if (err instanceof MongoServerError && HISTORY_LOST.has(Number(err.code))) this.token = undefined;
        this.log.warn({ err }, `${this.o.label}: change stream failed; the cache is bypassed until it reopens`);
        await new Promise((r) => setTimeout(r, this.o.restartDelayMs ?? 1000).unref());
      } finally {
        await stream.close().catch(() => {});
      }
    }
  }
}
