// The ONE module that writes error-log entries. Each occurrence is a single atomic upsert on the
// entry's dedup key (unique index): the first creates the entry, every later one bumps `count`
// and `lastSeen` and pushes `expiresAt` (TTL) forward, so a recurring error is one document, never
// an unbounded series. Times come from the server's clock ($$NOW). Every stored value is wrapped
// in $literal: an update pipeline would otherwise read a string such as "$foo" as a field path.
import type { ClientSession, Collection } from 'mongodb';
import type { ErrorLogDoc, Occurrence } from './types.js';

/** Where entries are kept (the domain's collections satisfy it). */
export type ErrorLogStore = { errorLog: Collection<ErrorLogDoc> };

export interface RecordOptions {
  /** ERROR_LOG_RETENTION_DAYS: the entry is deleted this long after its last occurrence. */
  retentionDays: number;
  /** Write inside this transaction (the decision's, the dead-letter's). */
  session?: ClientSession | undefined;
  /** Occurrences this write stands for (> 1 when coalesced by the intake recorder). */
  times?: number;
}

const MESSAGE_MAX = 500;
const FIELDS_MAX = 20;
const lit = (v: unknown) => ({ $literal: v });

/**
 * What makes two occurrences the same entry: the code and the application, or else the code, the
 * partner and the partner's loanId (none: one entry per partner and code), or else the event.
 */
export function keyOf(o: Occurrence): string {
  if (o.applicationId) return JSON.stringify([o.code, 'app', o.applicationId]);
  if (o.partnerId) return JSON.stringify([o.code, 'partner', o.partnerId, o.loanId ?? null]);
  if (o.retry) return JSON.stringify([o.code, 'event', o.retry.eventId]);
  return JSON.stringify([o.code]);
}

/** Records one occurrence (or `times` of them) of `o`: one upsert. */
export async function recordError(s: ErrorLogStore, o: Occurrence, opts: RecordOptions): Promise<void> {
  const key = keyOf(o);
  const optional = {
    ...(o.applicationId !== undefined ? { applicationId: lit(o.applicationId) } : {}),
    ...(o.loanId !== undefined ? { loanId: lit(o.loanId) } : {}),
    ...(o.partnerId !== undefined ? { partnerId: lit(o.partnerId) } : {}),
    ...(o.fields !== undefined ? { fields: lit(o.fields.slice(0, FIELDS_MAX).map((f) => f.slice(0, 200))) } : {}),
    ...(o.requestId !== undefined ? { requestId: lit(o.requestId) } : {}),
    ...(o.retry !== undefined ? { retry: lit(o.retry) } : {}),
  };
  await s.errorLog.updateOne(
    { key },
    [
      {
        $set: {
          key: lit(key),
          code: lit(o.code),
          category: lit(o.category),
          message: lit(o.message.slice(0, MESSAGE_MAX)),
          ...optional,
          firstSeen: { $ifNull: ['$firstSeen', '$$NOW'] },
          lastSeen: '$$NOW',
          count: { $add: [{ $ifNull: ['$count', 0] }, opts.times ?? 1] },
          expiresAt: { $dateAdd: { startDate: '$$NOW', unit: 'day', amount: opts.retentionDays } },
        },
      },
    ],
    { upsert: true, ...(opts.session ? { session: opts.session } : {}) },
  );
}
