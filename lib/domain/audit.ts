// The audit trail: one entry per change (applications, users) or admin action (dead letters,
// queues, vendor breakers), never updated or deleted. Admins read it newest first with a keyset cursor.
import { type ClientSession, type Collection, type Filter, ObjectId } from 'mongodb';
import type { Actor } from './users/types.js';

export const AUDIT_ENTITIES = ['application', 'user', 'dead_letter', 'queue', 'partner', 'intake', 'vendor'] as const;
export type AuditEntity = (typeof AUDIT_ENTITIES)[number];

/** Where audit entries are kept (the domain's collections satisfy it; no import of them here). */
type AuditStore = { audit: Collection<AuditDoc> };

export interface AuditDoc {
  _id?: ObjectId;
  entity: AuditEntity;
  entityId: string;
  action: string;
  actor: Actor;
  at: Date;
  fromVersion: number | null;
  toVersion: number;
  changes: Record<string, { from: unknown; to: unknown }>;
  requestId?: string;
  /** What an admin action applied to (the filter of a bulk operation, the ids it touched). */
  details?: Record<string, unknown>;
}

/** Field-level diff of the keys in `changes` against `before` (nested objects compared as JSON). */
export function diff(before: object, changes: object): AuditDoc['changes'] {
  const out: AuditDoc['changes'] = {};
  for (const [k, to] of Object.entries(changes)) {
    const from: unknown = Reflect.get(before, k);
    if (JSON.stringify(from) !== JSON.stringify(to)) out[k] = { from: from ?? null, to };
  }
  return out;
}

export async function recordAudit(c: AuditStore, entries: AuditDoc[], session?: ClientSession): Promise<void> {
  if (entries.length) await c.audit.insertMany(entries, { session });
}

export async function historyOf(c: AuditStore, entityId: string): Promise<AuditDoc[]> {
  return c.audit
    .find({ entityId }, { projection: { _id: 0 } })
    .sort({ at: 1, toVersion: 1 })
    .limit(1000)
    .toArray();
}

/** Records an admin action (no versioned document behind it): who, what, on what, with which request. */
export async function recordAction(
  c: AuditStore,
  a: {
    entity: AuditEntity;
    entityId: string;
    action: string;
    actor: Actor;
    requestId?: string | undefined;
    details?: Record<string, unknown>;
  },
  session?: ClientSession,
): Promise<void> {
  await recordAudit(
    c,
    [
      {
        entity: a.entity,
        entityId: a.entityId,
        action: a.action,
        actor: a.actor,
        at: new Date(),
        fromVersion: null,
        toVersion: 0,
        changes: {},
        ...(a.requestId ? { requestId: a.requestId } : {}),
        ...(a.details ? { details: a.details } : {}),
      },
    ],
    session,
  );
}

/**
 * Audit entries newest first (by _id, which grows with time), optionally of one entity kind,
 * entity id or action; `before` (the last _id of the previous page) continues the list.
 */
export async function listAudit(
  c: AuditStore,
  q: {
    entity?: AuditEntity | undefined;
    entityId?: string | undefined;
    action?: string | undefined;
    before?: string | undefined;
    limit: number;
  },
): Promise<{ items: AuditDoc[]; next: string | null }> {
  const filter: Filter<AuditDoc> = {
    ...(q.entity ? { entity: q.entity } : {}),
    ...(q.entityId ? { entityId: q.entityId } : {}),
    ...(q.action ? { action: q.action } : {}),
    ...(q.before ? { _id: { $lt: new ObjectId(q.before) } } : {}),
  };
  const items = await c.audit.find(filter).sort({ _id: -1 }).limit(q.limit).toArray();
  const last = items.at(-1);
  return { items, next: last?._id && items.length === q.limit ? last._id.toHexString() : null };
}

/**
 * For applications stored before createdBy/termsChangedBy existed: their creator and whoever last
 * changed their terms, read from the audit trail (entityId index).
 */
export async function authorsFromAudit(
  c: AuditStore,
  ids: string[],
  termFields: readonly string[],
  session?: ClientSession,
): Promise<Map<string, { createdBy?: Actor; termsChangedBy?: Actor }>> {
  const out = new Map<string, { createdBy?: Actor; termsChangedBy?: Actor }>();
  if (ids.length === 0) return out;
  const entries = await c.audit
    .find(
      {
        entityId: { $in: ids },
        entity: 'application',
        $or: [{ action: 'create' }, ...termFields.map((f) => ({ [`changes.${f}`]: { $exists: true } }))],
      },
      { session, projection: { entityId: 1, action: 1, actor: 1, toVersion: 1 }, sort: { entityId: 1, at: 1 } },
    )
    .toArray();
  for (const e of entries) {
    const a = out.get(e.entityId) ?? {};
    if (e.action === 'create') a.createdBy = e.actor;
    a.termsChangedBy = e.actor; // entries are in time order: the last one wins
    out.set(e.entityId, a);
  }
  return out;
}
