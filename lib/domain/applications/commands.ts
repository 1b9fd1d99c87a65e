// Use cases that change applications. Each change, its audit entry and any event it causes are
// written in one transaction.
import type { ClientSession } from 'mongodb';
import type { ApplicationDoc } from '../../db/collections.js';
import { inTransaction } from '../../db/transaction.js';
import { AppError, conflict, notFound, unprocessable } from '../../errors.js';
import { diff, recordAudit } from '../audit.js';
import type { Deps, Meta } from './context.js';
import { updateIfVersion } from './repository.js';
import type { ApplicationChanges, CreateApplicationInput } from './schemas.js';
import { canTransition, type Status } from './status.js';
import { newTrackingId } from './tracking-id.js';
import { toView } from './view.js';

type Changes = ApplicationChanges & Record<string, unknown>;

function auditEntry(before: ApplicationDoc | null, after: ApplicationDoc, action: string, changes: Record<string, unknown>, meta: Meta) {
  return {
    entity: 'application' as const, entityId: after._id, action, actor: meta.actor, at: after.updatedAt,
    fromVersion: before?.version ?? null, toVersion: after.version,
    changes: before ? diff(before, changes) : diff({}, changes), ...(meta.requestId ? { requestId: meta.requestId } : {}),
  };
}

async function afterChange(deps: Deps, before: ApplicationDoc | null, after: ApplicationDoc, meta: Meta, session: ClientSession) {
  await deps.hooks?.afterChange?.({ before, after, meta, session });
}

export async function createApplication(deps: Deps, input: CreateApplicationInput, meta: Meta): Promise<ApplicationDoc> {
  const now = new Date();
  const doc: ApplicationDoc = {
    _id: newTrackingId(now.getTime()), ...input, status: 'submitted', version: 1,
    createdAt: now, updatedAt: now, updatedBy: meta.actor,
  };
  return inTransaction(deps.client, async (session) => {
    await deps.c.applications.insertOne(doc, { session });
    await recordAudit(deps.c, [auditEntry(null, doc, 'create', { ...input, status: doc.status }, meta)], session);
    await afterChange(deps, null, doc, meta, session);
    return doc;
  });
}

/** Reads and checks inside the caller's transaction, then writes only if `version` is current. */
async function applyInSession(
  deps: Deps, session: ClientSession, id: string, version: number, changes: Changes, meta: Meta, by: 'manual' | 'system',
): Promise<ApplicationDoc> {
  const current = await deps.c.applications.findOne({ _id: id }, { session });
  if (!current) throw notFound(`application ${id} does not exist`);
  if (current.version !== version) {
    throw conflict(`version ${version} is stale; the application is at version ${current.version}`, {
      currentVersion: current.version, current: toView(current),
    });
  }
  if (changes.status && changes.status !== current.status && !canTransition(current.status, changes.status, by)) {
    throw unprocessable(`status cannot change from ${current.status} to ${changes.status}`, { from: current.status, to: changes.status });
  }
  // A partial applicant is merged so the diff (and a no-op check) compares whole values.
  const full: Changes = changes.applicant ? { ...changes, applicant: { ...current.applicant, ...changes.applicant } } : changes;
  if (Object.keys(diff(current, full)).length === 0) return current;
  const after = await updateIfVersion(deps.c, id, version, full, meta.actor, session);
  if (!after) throw conflict(`application ${id} changed concurrently`, { currentVersion: current.version + 1 });
  await recordAudit(deps.c, [auditEntry(current, after, changes.status ? 'status' : 'update', full, meta)], session);
  await afterChange(deps, current, after, meta, session);
  return after;
}

/** PUT semantics: applies `changes` only if the stored version equals `version`; 409 otherwise. */
export function updateApplication(
  deps: Deps, id: string, version: number, changes: Changes, meta: Meta, by: 'manual' | 'system' = 'manual',
): Promise<ApplicationDoc> {
  return inTransaction(deps.client, (s) => applyInSession(deps, s, id, version, changes, meta, by));
}

/**
 * Server-side read-modify-write: reads the current document, asks `mutate` for changes (null =
 * nothing to do) and writes them with a version check, retrying on conflict up to `maxAttempts`.
 */
export async function updateWithRetry(
  deps: Deps, id: string, mutate: (doc: ApplicationDoc) => Changes | null, meta: Meta,
  opts: { maxAttempts?: number; by?: 'manual' | 'system' } = {},
): Promise<ApplicationDoc> {
  const maxAttempts = opts.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const doc = await deps.c.applications.findOne({ _id: id });
    if (!doc) throw notFound(`application ${id} does not exist`);
    const changes = mutate(doc);
    if (!changes) return doc;
    try {
      return await updateApplication(deps, id, doc.version, changes, meta, opts.by ?? 'system');
    } catch (e) {
      if (!(e instanceof AppError && e.status === 409) || attempt >= maxAttempts) throw e;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}

export type BatchResult = { id: string; result: 'updated' | 'conflict' | 'not_found' | 'invalid_transition'; version?: number };

/**
 * Moves many applications to `status` in one transaction with one read, one bulkWrite and one
 * audit insert, whatever the batch size. `versions` (optional) pins expected versions per id.
 */
export async function batchUpdateStatus(
  deps: Deps, ids: string[], status: Status, versions: Record<string, number> | undefined, meta: Meta,
): Promise<BatchResult[]> {
  const unique = [...new Set(ids)];
  return inTransaction(deps.client, async (session) => {
    const docs = new Map((await deps.c.applications.find({ _id: { $in: unique } }, { session }).toArray()).map((d) => [d._id, d]));
    const results: BatchResult[] = [];
    const planned: ApplicationDoc[] = [];
    for (const id of unique) {
      const d = docs.get(id);
      const expected = versions?.[id];
      if (!d) results.push({ id, result: 'not_found' });
      else if (expected !== undefined && expected !== d.version) results.push({ id, result: 'conflict', version: d.version });
      else if (!canTransition(d.status, status, 'manual')) results.push({ id, result: 'invalid_transition', version: d.version });
      else { planned.push(d); results.push({ id, result: 'updated', version: d.version + 1 }); }
    }
    if (planned.length === 0) return results;
    const now = new Date();
    const res = await deps.c.applications.bulkWrite(planned.map((d) => ({
      updateOne: { filter: { _id: d._id, version: d.version }, update: { $set: { status, updatedAt: now, updatedBy: meta.actor }, $inc: { version: 1 } } },
    })), { ordered: false, session });
    // Inside a snapshot transaction a concurrent change aborts us with a write conflict (and the
    // driver retries the whole batch), so every planned update must have matched.
    if (res.matchedCount !== planned.length) throw new Error(`batch matched ${res.matchedCount} of ${planned.length}`);
    const afters = planned.map((d) => ({ ...d, status, version: d.version + 1, updatedAt: now, updatedBy: meta.actor }));
    await recordAudit(deps.c, afters.map((a, i) => auditEntry(planned[i]!, a, 'status', { status }, meta)), session);
    for (let i = 0; i < afters.length; i++) await afterChange(deps, planned[i]!, afters[i]!, meta, session);
    return results;
  });
}
