// Purging dead letters (admin API), refusing to destroy the record of a disbursement that may have
// moved money: while a dead `disbursement.requested` names an application that is not in a final
// state (disbursed, rejected, failed), purging it could leave a payment with no ledger entry, so
// the whole purge is refused with 409 and nothing is deleted. The check and the delete are one
// transaction (snapshot isolation: the delete sees exactly the dead letters that were checked).
import { inTransaction } from '../../db/transaction.js';
import { AppError } from '../../errors.js';
import { deadLetterPayloadValues, purgeDeadLetters as purgeEvents } from '../../queue/index.js';
import { findNotIn } from '../applications/repository.js';
import type { Status } from '../applications/status.js';
import type { DomainContext } from '../context.js';
import { EVENT } from './events.js';

export const FINAL_STATUSES: readonly Status[] = ['disbursed', 'rejected', 'failed'];

export interface PurgeFilter {
  type?: string | undefined;
  olderThan?: Date | undefined;
}

export async function purgeDeadLetters(ctx: DomainContext, f: PurgeFilter): Promise<{ purged: number }> {
  const filter = { ...(f.type !== undefined ? { type: f.type } : {}), ...(f.olderThan !== undefined ? { olderThan: f.olderThan } : {}) };
  return inTransaction(ctx.client, async (session) => {
    // Snapshot isolation: the delete below sees exactly the dead letters checked here.
    const disbursements = filter.type === undefined || filter.type === EVENT.disbursement;
    const named = disbursements
      ? await deadLetterPayloadValues(ctx.db, { ...filter, type: EVENT.disbursement }, 'applicationId', session)
      : [];
    const ids = named.filter((x): x is string => typeof x === 'string');
    const open = await findNotIn(ctx.c, ids, FINAL_STATUSES, 20, session);
    if (open.length > 0) {
      throw new AppError(
        409,
        'disbursement_not_final',
        'dead disbursement events of applications that are not disbursed, rejected or failed cannot be purged (retry them instead)',
        { applications: open.map((a) => ({ id: a._id, status: a.status })) },
      );
    }
    return { purged: await purgeEvents(ctx.db, filter, session) };
  });
}
