import type { ClientSession } from 'mongodb';
import type { AuditDoc, Collections } from '../db/collections.js';

/** Field-level diff of the keys in `changes` against `before` (nested objects compared as JSON). */
export function diff(before: object, changes: Record<string, unknown>): AuditDoc['changes'] {
  const out: AuditDoc['changes'] = {};
  for (const [k, to] of Object.entries(changes)) {
    const from = (before as Record<string, unknown>)[k];
    if (JSON.stringify(from) !== JSON.stringify(to)) out[k] = { from: from ?? null, to };
  }
  return out;
}

export async function recordAudit(c: Collections, entries: AuditDoc[], session?: ClientSession): Promise<void> {
  if (entries.length) await c.audit.insertMany(entries, { session });
}

export async function historyOf(c: Collections, entityId: string): Promise<AuditDoc[]> {
  return c.audit.find({ entityId }, { projection: { _id: 0 } }).sort({ at: 1, toVersion: 1 }).limit(1000).toArray();
}
