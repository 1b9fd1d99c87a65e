// Purging dead letters (admin API), refusing to destroy the record of a disbursement that may have
// moved money: while a dead `disbursement.requested` names an application that is not in a final
// state (disbursed, rejected, failed), purging it could leave a payment with no ledger entry, so
// the whole purge is refused with 409 and nothing is deleted. The check and the delete are one
// transaction, and the delete only takes disbursement dead letters of the applications checked.
import type { Filter } from 'mongodb';
import { inTransaction } from '../../db/transaction.js';
import { AppError } from '../../errors.js';
import { type EventDoc, eventsCollection } from '../../queue/index.js';
import type { Status } from '../applications/status.js';
import type { DomainContext } from '../context.js';
import { EVENT } from './events.js';

export const FINAL_STATUSES: readonly Status[] = ['disbursed', 'rejected', 'failed'];

export interface PurgeFilter {
  type?: string | undefined;
  olderThan?: Date | undefined;
}

export async function purgeDeadLetters(ctx: DomainContext, f: PurgeFilter): Promise<{ purged: number }> {
  const events = eventsCollection(ctx.db);
  const dead: Filter<EventDoc> = {
    state: 'dead',
    ...(f.type !== undefined ? { type: f.type } : {}),
    ...(f.olderThan !== undefined ? { deadAt: { $lt: f.olderThan } } : {}),
  };
  return inTransaction(ctx.client, async (session) => {
    const named: unknown[] = await events.distinct('payload.applicationId', { ...dead, type: EVENT.disbursement }, { session });
    const ids = named.filter((x): x is string => typeof x === 'string');
    const open = await ctx.c.applications
      .find({ _id: { $in: ids }, status: { $nin: [...FINAL_STATUSES] } }, { session, projection: { _id: 1, status: 1 } })
      .limit(20)
      .toArray();
    if (open.length > 0) {
      throw new AppError(
        409,
        'disbursement_not_final',
        'dead disbursement events of applications that are not disbursed, rejected or failed cannot be purged (retry them instead)',
        { applications: open.map((a) => ({ id: a._id, status: a.status })) },
      );
    }
    const r = await events.deleteMany(
      { ...dead, $or: [{ type: { $ne: EVENT.disbursement } }, { 'payload.applicationId': { $in: ids } }] },
      { session },
    );
    return { purged: r.deletedCount };
  });
}
