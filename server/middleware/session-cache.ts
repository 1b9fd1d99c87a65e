// A per-instance cache in front of the MongoDB session store, so an authenticated request costs one
// database round trip (its own query) instead of two (the session, then its query).
//
// Correctness comes from ONE change stream per instance on `sessions` (keys only): every update,
// replace or delete of a session — a logout, "log out everywhere", a password change, a role
// change, the TTL monitor, a write by another instance — evicts that session here as soon as the
// change is majority-committed. The cache is used only while that stream is open: before it opens,
// after an error and until it is reopened, every request reads the store (and the cache is
// emptied). A read that overlaps an eviction of the same session is not cached (it may have read
// the old document). As a last bound, an entry is served for at most `maxAgeMs` and never past the
// session cookie's expiry.
//
// So a session change made on any instance takes effect on every instance within the change
// stream's delay (milliseconds on a healthy replica set; tests/integration/session-cache.test.ts),
// and never later than `maxAgeMs` (SESSION_CACHE_MS) even if the stream silently stalls.
import type { Collection } from 'mongodb';
import session, { type SessionData, type Store } from 'express-session';
import { KeyWatch } from '../../lib/db/key-watch.js';
import type { Logger } from '../../lib/logger.js';

type Callback = (err?: unknown) => void;
type GetCallback = (err: unknown, session?: SessionData | null) => void;

interface Entry {
  session: SessionData;
  until: number;
}

export interface SessionCacheOptions {
  /** Longest an entry is served without a read (0: no cache at all). */
  maxAgeMs: number;
  /** connect-mongo's touchAfter, in ms: a touch after this long writes, so the cached copy is stale. */
  touchAfterMs: number;
  /** Most sessions kept; the oldest go first. */
  maxEntries?: number;
  restartDelayMs?: number;
  /** Longest a destroy() waits for the stream to deliver its delete. */
  observeTimeoutMs?: number;
}

export class CachedSessionStore extends session.Store {
  private readonly entries = new Map<string, Entry>();
  /** The change stream on `sessions`; the cache serves only while it is open. */
  private readonly watch: KeyWatch<{ _id: string }>;
  private readonly maxEntries: number;
  private readonly observeTimeoutMs: number;
  /** sid → destroy() calls waiting for the stream to deliver its delete. */
  private readonly observers = new Map<string, Set<() => void>>();
  /** Reads answered from the cache and from the store (the session_cache_reads metric). */
  readonly counts = { hit: 0, miss: 0 };

  constructor(
    private readonly inner: Store,
    private readonly sessions: Collection<{ _id: string }>,
    log: Logger,
    private readonly o: SessionCacheOptions,
  ) {
    super();
    this.maxEntries = o.maxEntries ?? 50_000;
    this.observeTimeoutMs = o.observeTimeoutMs ?? 1000;
    // express-session stops serving sessions while its store reports a disconnect.
    inner.on('disconnect', () => this.emit('disconnect'));
    inner.on('connect', () => this.emit('connect'));
    this.watch = new KeyWatch(sessions, log, {
      label: 'session cache',
      maxRemembered: this.maxEntries,
      ...(o.restartDelayMs === undefined ? {} : { restartDelayMs: o.restartDelayMs }),
    });
    this.watch.onChange((sid) => {
      this.entries.delete(sid);
      for (const observed of this.observers.get(sid) ?? []) observed();
    });
    this.watch.onReset(() => this.entries.clear());
    if (o.maxAgeMs > 0) this.watch.start();
  }

  private get open(): boolean {
    return this.watch.open;
  }

  override get(sid: string, cb: GetCallback): void {
    const now = Date.now();
    const hit = this.open ? this.entries.get(sid) : undefined;
    if (hit && hit.until > now) {
      this.counts.hit++;
      cb(null, structuredClone(hit.session));
      return;
    }
    if (hit) this.entries.delete(sid);
    this.counts.miss++;
    const ticket = this.watch.ticket();
    this.inner.get(sid, (err, s) => {
      if (!err && s && this.watch.unchangedSince(sid, ticket)) this.remember(sid, s, now);
      cb(err, s);
    });
  }

  override set(sid: string, s: SessionData, cb?: Callback): void {
    this.evict(sid);
    this.inner.set(sid, s, (err) => {
      this.evict(sid); // a read that raced the write is not kept
      cb?.(err);
    });
  }

  /**
   * Deletes the session, and — when there was one to delete — answers once this instance's change
   * stream has seen the delete (at most `observeTimeoutMs`): every instance's stream gets it from
   * mongod at the same moment, so by the time the client sees its logout answered, the other
   * instances have evicted the session too. (A login regenerates a session that was never stored:
   * nothing is deleted and nothing is waited for.) The delete is connect-mongo's own: by `_id`,
   * with the client's write concern.
   */
  override destroy(sid: string, cb?: Callback): void {
    this.evict(sid);
    const seen = this.open ? this.observe(sid) : undefined;
    this.sessions.deleteOne({ _id: sid }).then(
      (r) => {
        this.evict(sid);
        if (!seen || r.deletedCount === 0) {
          seen?.cancel();
          return void cb?.();
        }
        void seen.done.then(() => cb?.());
      },
      (err: unknown) => {
        seen?.cancel();
        cb?.(err);
      },
    );
  }

  override touch(sid: string, s: SessionData, cb?: () => void): void {
    // The store writes a touch only once per touchAfter (by the session's lastModified); after such
    // a write the cached copy's lastModified is old, and every request would write again.
    const last = (s as { lastModified?: Date }).lastModified;
    const writes = !(last instanceof Date) || Date.now() - last.getTime() >= this.o.touchAfterMs;
    if (!this.inner.touch) return void cb?.();
    this.inner.touch(sid, s, () => {
      if (writes) this.evict(sid);
      cb?.();
    });
  }

  /**
   * Call BEFORE deleting these sessions: settles once the stream has delivered a change of each
   * (at most `observeTimeoutMs`), at once when the cache is off or its stream is down.
   */
  sessionsEnding(sids: string[]): Promise<void> {
    if (!this.open) return Promise.resolve();
    return Promise.all(sids.map((sid) => this.observe(sid).done)).then(() => undefined);
  }

  /** Stops the change stream (shutdown). */
  async close(): Promise<void> {
    for (const waiters of this.observers.values()) for (const observed of waiters) observed();
    await this.watch.close();
  }

  /** Resolves when the stream delivers a change of `sid`, or after observeTimeoutMs. */
  private observe(sid: string): { done: Promise<void>; cancel: () => void } {
    let finish!: () => void;
    const done = new Promise<void>((res) => {
      finish = res;
    });
    const waiters = this.observers.get(sid) ?? new Set<() => void>();
    this.observers.set(sid, waiters);
    const cancel = () => {
      clearTimeout(timer);
      waiters.delete(finish);
      if (waiters.size === 0 && this.observers.get(sid) === waiters) this.observers.delete(sid);
      finish();
    };
    const timer = setTimeout(cancel, this.observeTimeoutMs);
    timer.unref();
    waiters.add(finish);
    return { done: done.then(cancel), cancel };
  }

  private remember(sid: string, s: SessionData, now: number): void {
    const expires = s.cookie?.expires ? new Date(s.cookie.expires).getTime() : Number.POSITIVE_INFINITY;
    const until = Math.min(now + this.o.maxAgeMs, expires);
    if (until <= now) return;
    this.entries.delete(sid);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(sid, { session: structuredClone(s), until });
  }

  /** A write of this process: the cached copy goes, and a read that raced the write is not kept. */
  private evict(sid: string): void {
    this.entries.delete(sid);
    this.watch.touched(sid);
  }
}
