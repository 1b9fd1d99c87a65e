// The status view of an application, as partners and status streams see it:
// `{ id, loanId, status, reasons, updatedAt, version }`. One pure mapping shared by
// GET /api/loan/request/:id and the status event streams, so both always say the same thing.
import type { Status } from '../applications/status.js';
import type { Reason } from '../risk/types.js';

/** The fields the view reads (a projection of an application, or a change stream's document). */
export interface StatusSource {
  _id: string;
  status: Status;
  updatedAt: Date;
  version: number;
  intake?: { loanId?: string | undefined } | undefined;
  risk?: { reasons?: readonly Reason[] | undefined } | undefined;
  /** The bureau step: while it waits, its transient reasons (VENDOR_UNAVAILABLE) are shown too. */
  bureau?: { state?: string | undefined; reasons?: readonly Reason[] | undefined } | undefined;
}

export interface StatusView {
  id: string;
  /** The partner's own reference; null for an application an admin created. */
  loanId: string | null;
  status: Status;
  reasons: Array<Pick<Reason, 'code' | 'category' | 'message'>>;
  updatedAt: Date;
  version: number;
}

export function statusView(doc: StatusSource): StatusView {
  return {
    id: doc._id,
    loanId: doc.intake?.loanId ?? null,
    status: doc.status,
    reasons: [...(doc.risk?.reasons ?? []), ...(doc.bureau?.state === 'waiting' ? (doc.bureau.reasons ?? []) : [])].map((r) => ({
      code: r.code,
      category: r.category,
      message: r.message,
    })),
    updatedAt: doc.updatedAt,
    version: doc.version,
  };
}
