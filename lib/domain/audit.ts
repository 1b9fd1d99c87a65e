// The audit trail: one entry per change, never updated or deleted.
import type { ClientSession, ObjectId } from 'mongodb';
import type { Collections } from './collections.js';
import type { Actor } from './users/types.js';

export interface AuditDoc {
  _id?: ObjectId;
  entity: 'application' | 'user';
  entityId: string;
  action: string;
  actor: Actor;
  at: Date;
  fromVersion: number | null;
  toVersion: number;
  changes: Record<string, { from: unknown; to: unknown }>;
  requestId?: string;
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

export async function recordAudit(c: Collections, entries: AuditDoc[], session?: ClientSession): Promise<void> {
  if (entries.length) await c.audit.insertMany(entries, { session });
}

export async function historyOf(c: Collections, entityId: string): Promise<AuditDoc[]> {
  return c.audit
    .find({ entityId }, { projection: { _id: 0 } })
    .sort({ at: 1, toVersion: 1 })
    .limit(1000)
    .toArray();
}
