// Reading the error log: a page of entries newest first (by lastSeen, then _id) with a keyset
// cursor, and counts grouped by code within a time window. Both filter on lastSeen ("seen in the
// window"). An entry that recurs while someone pages moves to the front: a walk in progress never
// lists it twice (it is now before the cursor) but misses it if it had not reached it yet; a fresh
// first page shows it.
import type { Filter } from 'mongodb';
import type { ErrorCategory } from './codes.js';
import { type ErrorCursor, encodeCursor } from './cursor.js';
import { ERROR_LOG_INDEX, indexFor } from './indexes.js';
import type { ErrorLogStore } from './record.js';
import type { ErrorLogDoc } from './types.js';

export interface ErrorLogFilter {
  code?: string | undefined;
  category?: ErrorCategory | undefined;
  applicationId?: string | undefined;
  loanId?: string | undefined;
  partnerId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

export interface ErrorPageQuery extends ErrorLogFilter {
  after?: ErrorCursor | undefined;
  limit: number;
}

/** lastSeen within [from, to), and for a continued page at or before the cursor's time. */
function lastSeenRange(q: ErrorPageQuery): Filter<ErrorLogDoc>['lastSeen'] | undefined {
  const range: { $gte?: Date; $lt?: Date; $lte?: Date } = {};
  if (q.from) range.$gte = q.from;
  if (q.to) range.$lt = q.to;
  if (q.after) range.$lte = q.after.lastSeen;
  return Object.keys(range).length ? range : undefined;
}

export function errorFilter(q: ErrorPageQuery): Filter<ErrorLogDoc> {
  const f: Filter<ErrorLogDoc> = {};
  if (q.code) f.code = q.code;
  if (q.category) f.category = q.category;
  if (q.applicationId) f.applicationId = q.applicationId;
  if (q.loanId) f.loanId = q.loanId;
  if (q.partnerId) f.partnerId = q.partnerId;
  const range = lastSeenRange(q);
  if (range) f.lastSeen = range;
  // Strictly after the cursor in (lastSeen desc, _id desc): an older time, or the same time and a smaller id.
  if (q.after) f.$or = [{ lastSeen: { $lt: q.after.lastSeen } }, { _id: { $lt: q.after.id } }];
  return f;
}

/** The page's query (also explained by the test): the hinted index, in its order, limit + 1 to know whether more follow. */
export function errorPageCursor(s: ErrorLogStore, q: ErrorPageQuery) {
  return s.errorLog
    .find(errorFilter(q))
    .sort({ lastSeen: -1, _id: -1 })
    .hint(indexFor(q))
    .limit(q.limit + 1);
}

export async function listErrors(s: ErrorLogStore, q: ErrorPageQuery): Promise<{ items: ErrorLogDoc[]; next: string | null }> {
  const found = await errorPageCursor(s, q).toArray();
  const items = found.slice(0, q.limit);
  const last = items.at(-1);
  return { items, next: found.length > q.limit && last ? encodeCursor(last) : null };
}

export interface SummaryRow {
  code: string;
  category: ErrorCategory;
  /** Entries (distinct applications / partner loans) last seen in the window. */
  entries: number;
  /** Their occurrences (each entry's count). */
  occurrences: number;
}

/** Counts by code (each code has one category) and by category, for entries last seen in [from, to). */
export async function summarizeErrors(
  s: ErrorLogStore,
  q: { from?: Date | undefined; to?: Date | undefined },
): Promise<{ byCode: SummaryRow[]; byCategory: Array<Omit<SummaryRow, 'code'>> }> {
  const range = lastSeenRange({ ...q, limit: 0 });
  const rows = await s.errorLog
    .aggregate<{ _id: { code: string; category: ErrorCategory }; entries: number; occurrences: number }>(
      [
        ...(range ? [{ $match: { lastSeen: range } }] : []),
        { $group: { _id: { code: '$code', category: '$category' }, entries: { $sum: 1 }, occurrences: { $sum: '$count' } } },
        { $sort: { occurrences: -1, '_id.code': 1 } },
      ],
      // A window is an index range on lastSeen; without one every entry is read (bounded by the TTL retention).
      range ? { hint: ERROR_LOG_INDEX.all } : {},
    )
    .toArray();
  const byCode = rows.map((r) => ({ code: r._id.code, category: r._id.category, entries: r.entries, occurrences: r.occurrences }));
  const cats = new Map<ErrorCategory, { entries: number; occurrences: number }>();
  for (const r of byCode) {
    const c = cats.get(r.category) ?? { entries: 0, occurrences: 0 };
    c.entries += r.entries;
    c.occurrences += r.occurrences;
    cats.set(r.category, c);
  }
  const byCategory = [...cats].map(([category, c]) => ({ category, ...c })).sort((a, b) => b.occurrences - a.occurrences);
  return { byCode, byCategory };
}
