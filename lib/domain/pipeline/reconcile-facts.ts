// What the reconciler checks before it acts on a stuck application: the stage's events (by their
// dedupe keys or ids, both indexed — never a scan of the events collection), how often it already
// re-drove the application in this status (its own audit entries), and the ledger.
import { ObjectId } from 'mongodb';
import { type EventDoc, eventsCollection } from '../../queue/index.js';
import type { ApplicationDoc } from '../applications/types.js';
import type { DomainContext } from '../context.js';
import { EVENT } from './events.js';

export const REDRIVE_ACTION = 'reconcile.redrive';
export const ESCALATE_ACTION = 'reconcile.escalate';
export const FINISH_ACTION = 'reconcile.finish';

/** The event a stage's hook publishes (hooks.ts), or null when the application cannot have one. */
export interface StageEvent {
  type: string;
  payload: Record<string, string>;
  /** The dedupe key the pipeline hook used on entering the status. */
  baseKey: string;
}

export function stageEvent(app: ApplicationDoc): StageEvent | null {
  const applicationId = app._id;
  if (app.status === 'ocr_pending') {
    const documentId = app.documents?.at(-1)?.id;
    return documentId ? { type: EVENT.ocr, payload: { applicationId, documentId }, baseKey: `ocr:${documentId}` } : null;
  }
  // The hook keys approval by the version that entered scoring; scoring has no manual transitions
  // and every worker write leaves it, so the current version is that version.
  if (app.status === 'scoring')
    return { type: EVENT.approval, payload: { applicationId }, baseKey: `approval:${applicationId}:v${app.version}` };
  // `approved` has no manual exit and disbursement leaves it: its version is the one the hook keyed.
  if (app.status === 'approved')
    return { type: EVENT.disbursement, payload: { applicationId }, baseKey: `disbursement:${applicationId}:v${app.version}` };
  if (app.status === 'disbursing')
    return { type: EVENT.disbursement, payload: { applicationId }, baseKey: `disbursement:${applicationId}:reconcile` };
  return null;
}

/** The dedupe key of the reconciler's n-th re-drive (n ≥ 1) of a stage. */
export const redriveKey = (baseKey: string, n: number) => `${baseKey}:r${n}`;

export type EventFacts = Pick<EventDoc, '_id' | 'state' | 'dedupeKey'>;

/** The stage's events: the hook's (by key), the reconciler's earlier re-drives, and `ids` (e.g. the disbursement's eventId). */
export async function stageEvents(ctx: DomainContext, baseKey: string, redrives: number, ids: string[] = []): Promise<EventFacts[]> {
  const keys = [baseKey, ...Array.from({ length: redrives }, (_, i) => redriveKey(baseKey, i + 1))];
  const oids = ids.filter((id) => ObjectId.isValid(id) && id.length === 24).map((id) => new ObjectId(id));
  return eventsCollection(ctx.db)
    .find(
      { $or: [{ dedupeKey: { $in: keys } }, ...(oids.length ? [{ _id: { $in: oids } }] : [])] },
      { projection: { _id: 1, state: 1, dedupeKey: 1 } },
    )
    .toArray();
}

export const isLive = (e: EventFacts) => e.state === 'pending' || e.state === 'processing';

/** Re-drives the reconciler already made of this application in this status (its audit entries). */
export function redrivesOf(ctx: DomainContext, applicationId: string, status: string): Promise<number> {
  return ctx.c.audit.countDocuments({ entityId: applicationId, action: REDRIVE_ACTION, 'details.status': status });
}

export async function hasLedgerEntry(ctx: DomainContext, applicationId: string): Promise<boolean> {
  return (await ctx.c.ledger.countDocuments({ applicationId }, { limit: 1 })) === 1;
}
