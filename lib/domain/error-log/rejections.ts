// Source 2: an automatic decision that rejects an application records each reason that rejected
// it (severity `reject`: LOW_CREDIT_SCORE, LOAN_TOO_LARGE) as an entry of category `rule`. It is
// an application hook, so the entries are written in the decision's own transaction: the
// application is rejected and its entries exist together, or neither.
import type { ApplicationHooks } from '../context.js';
import { type ErrorLogStore, recordError } from './record.js';

export function recordRejections(s: ErrorLogStore, retentionDays: number): ApplicationHooks {
  return {
    async afterChanges(changes, session) {
      for (const { before, after, meta } of changes) {
        if (after.status !== 'rejected' || before?.status === 'rejected') continue;
        for (const r of after.risk?.reasons ?? []) {
          if (r.severity !== 'reject') continue;
          await recordError(
            s,
            {
              code: r.code,
              category: 'rule',
              message: r.message,
              applicationId: after._id,
              loanId: after.intake?.loanId,
              partnerId: after.intake?.partnerId,
              requestId: meta.requestId,
            },
            { retentionDays, session },
          );
        }
      }
    },
  };
}
