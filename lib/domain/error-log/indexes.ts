// The error log's indexes (created by migration 009-error-log) and the one that serves each
// filter shape of the list. Every list is sorted newest first by (lastSeen, _id), so each index
// ends with lastSeen -1, _id -1 after the equality fields it serves: equality, then sort, then the
// from/to range on lastSeen — an index scan in sort order, never an in-memory SORT. A filter the
// chosen index does not hold (category beside code, partner beside a loan) is checked on the few
// entries the index yields.
import type { IndexDescription } from 'mongodb';

const SORTED = { lastSeen: -1, _id: -1 } as const;

export const ERROR_LOG_INDEX = {
  all: 'lastSeen_-1__id_-1',
  code: 'code_1_lastSeen_-1__id_-1',
  category: 'category_1_lastSeen_-1__id_-1',
  partner: 'partnerId_1_lastSeen_-1__id_-1',
  partnerCode: 'partnerId_1_code_1_lastSeen_-1__id_-1',
  partnerCategory: 'partnerId_1_category_1_lastSeen_-1__id_-1',
  application: 'applicationId_1_lastSeen_-1__id_-1',
  loan: 'loanId_1_lastSeen_-1__id_-1',
} as const;

export const ERROR_LOG_INDEXES: IndexDescription[] = [
  { key: { key: 1 }, name: 'key_unique', unique: true },
  // TTL: an entry is deleted ERROR_LOG_RETENTION_DAYS after its last occurrence (record.ts sets expiresAt).
  { key: { expiresAt: 1 }, name: 'ttl', expireAfterSeconds: 0 },
  { key: { ...SORTED }, name: ERROR_LOG_INDEX.all },
  { key: { code: 1, ...SORTED }, name: ERROR_LOG_INDEX.code },
  { key: { category: 1, ...SORTED }, name: ERROR_LOG_INDEX.category },
  { key: { partnerId: 1, ...SORTED }, name: ERROR_LOG_INDEX.partner },
  { key: { partnerId: 1, code: 1, ...SORTED }, name: ERROR_LOG_INDEX.partnerCode },
  { key: { partnerId: 1, category: 1, ...SORTED }, name: ERROR_LOG_INDEX.partnerCategory },
  {
    key: { applicationId: 1, ...SORTED },
    name: ERROR_LOG_INDEX.application,
    partialFilterExpression: { applicationId: { $exists: true } },
  },
  { key: { loanId: 1, ...SORTED }, name: ERROR_LOG_INDEX.loan, partialFilterExpression: { loanId: { $exists: true } } },
];

/** The equality filters of a list query (whichever are set). */
export interface ErrorFilterShape {
  code?: string | undefined;
  category?: string | undefined;
  partnerId?: string | undefined;
  applicationId?: string | undefined;
  loanId?: string | undefined;
}

/** The index that serves `q`, most selective first (hinted, so the plan never depends on the planner's guess). */
export function indexFor(q: ErrorFilterShape): string {
  if (q.applicationId) return ERROR_LOG_INDEX.application;
  if (q.loanId) return ERROR_LOG_INDEX.loan;
  if (q.partnerId && q.code) return ERROR_LOG_INDEX.partnerCode;
  if (q.partnerId && q.category) return ERROR_LOG_INDEX.partnerCategory;
  if (q.partnerId) return ERROR_LOG_INDEX.partner;
  if (q.code) return ERROR_LOG_INDEX.code;
  if (q.category) return ERROR_LOG_INDEX.category;
  return ERROR_LOG_INDEX.all;
}
