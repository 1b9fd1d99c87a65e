// The users' side of the session store: ending every session of a user at once, and the per-instance
// view of each user's current access (role, disabled, session epoch) that every request is checked
// against. connect-mongo keeps sessions in the `sessions` collection with the session object stored
// as a document (`session.user.id`).
import { ObjectId } from 'mongodb';
import type { KeyWatch } from '../../db/key-watch.js';
import type { Collections } from '../collections.js';
import type { DomainContext } from '../context.js';
import type { Role, UserDoc } from './types.js';

export const SESSIONS_COLLECTION = 'sessions';

/**
 * Deletes every stored session of `userId`, and returns once the process's session cache has
 * dropped them (`sessionsEnding`; every instance's cache hears of the deletes at the same moment),
 * so the user is logged out everywhere when this returns.
 */
export async function deleteSessionsOf(d: Pick<DomainContext, 'db' | 'sessionsEnding'>, userId: string): Promise<number> {
  const sessions = d.db.collection<{ _id: string }>(SESSIONS_COLLECTION);
  const ending = d.sessionsEnding
    ? d.sessionsEnding((await sessions.find({ 'session.user.id': userId }, { projection: { _id: 1 } }).toArray()).map((x) => x._id))
    : undefined;
  const r = await sessions.deleteMany({ 'session.user.id': userId });
  await ending;
  return r.deletedCount;
}

/** What a request may do as this user right now. */
export interface AccessState {
  role: Role;
  disabled: boolean;
  epoch: number;
}

/**
 * A per-instance cache of users' access state. With a `watch` (a change stream on `users`,
 * lib/db/key-watch.ts) an entry is evicted the moment the user document changes and may live
 * `watchedTtlMs`; while the stream is down (or without one) an entry lives `ttlMs`, so each
 * request sees a role change, a disable or a revocation made on any instance within `ttlMs` at
 * worst (deleting the sessions makes it immediate; this bound covers a session written back by a
 * request that was already running). At most `max` users are kept; the oldest go first.
 */
export class AccessStateCache {
  /** `watched`: read while the stream was open and unchanged since, so the stream covers it. */
  private readonly entries = new Map<string, { at: number; state: AccessState | null; watched: boolean }>();

  constructor(
    private readonly c: Collections,
    readonly ttlMs: number,
    private readonly o: { watch?: KeyWatch<UserDoc>; watchedTtlMs?: number; max?: number } = {},
  ) {
    o.watch?.onChange((id) => this.entries.delete(id));
    o.watch?.onReset(() => this.entries.clear());
  }

  /** The user's current state, or null when the user no longer exists; `fresh` skips the cache. */
  async get(userId: string, fresh = false): Promise<AccessState | null> {
    const now = Date.now();
    const hit = this.entries.get(userId);
    const watch = this.o.watch;
    const ttl = hit?.watched && watch?.open ? Math.max(this.ttlMs, this.o.watchedTtlMs ?? 0) : this.ttlMs;
    if (hit && !fresh && now - hit.at < ttl) return hit.state;
    const ticket = watch?.ticket();
    const state = await this.load(userId);
    this.entries.delete(userId);
    if (this.entries.size >= (this.o.max ?? 10_000)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const watched = watch !== undefined && ticket !== undefined && watch.unchangedSince(userId, ticket);
    // Changed while it was read: not kept. Read without the stream: kept for ttlMs only.
    const stale = watch?.open === true && !watched;
    if (this.ttlMs > 0 && !stale) this.entries.set(userId, { at: now, state, watched });
    return state;
  }

  private async load(userId: string): Promise<AccessState | null> {
    if (!ObjectId.isValid(userId)) return null;
    const u = await this.c.users.findOne({ _id: new ObjectId(userId) }, { projection: { role: 1, disabled: 1, sessionEpoch: 1 } });
    return u ? { role: u.role, disabled: u.disabled === true, epoch: u.sessionEpoch ?? 0 } : null;
  }
}
