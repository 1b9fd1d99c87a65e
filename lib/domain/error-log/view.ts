// An entry as the API shows it (no dedup key, no TTL field).
import type { ErrorLogDoc } from './types.js';

export const errorView = (e: ErrorLogDoc) => ({
  id: e._id.toHexString(),
  code: e.code,
  category: e.category,
  applicationId: e.applicationId ?? null,
  loanId: e.loanId ?? null,
  partnerId: e.partnerId ?? null,
  message: e.message,
  ...(e.fields ? { fields: e.fields } : {}),
  firstSeen: e.firstSeen,
  lastSeen: e.lastSeen,
  count: e.count,
  requestId: e.requestId ?? null,
  retryable: e.retry !== undefined,
  eventId: e.retry?.eventId ?? null,
  stage: e.retry?.stage ?? null,
  lastRetry: e.lastRetry ? { at: e.lastRetry.at, by: e.lastRetry.by.email } : null,
});
