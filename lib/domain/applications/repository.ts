// The only door to MongoDB for applications: use cases call these functions, never the driver.
// Nothing here knows about HTTP, and nothing here decides what a change means.
import type { ChangeStream, ClientSession, Filter, ResumeToken, Sort } from 'mongodb';
import type { Collections } from '../collections.js';
import type { Actor } from '../users/types.js';
import type { Cursor } from './cursor.js';
import type { CountTotal } from './list-totals.js';
import type { SortKey } from './schemas.js';
import type { Status } from './status.js';
import type { ApplicationDoc, DocumentRef, OcrResult } from './types.js';

/** Each sort ends on _id so the order is total (stable pages); an index serves every combination. */
export function sortSpec(key: SortKey): Sort {
  const dir = key.startsWith('-') ? -1 : 1;
  return { [key.replace('-', '')]: dir, _id: dir };
}

/** Indexes the list endpoint relies on: {field,_id} and {status,field,_id} for each sort field. */
export const APPLICATION_INDEXES = (['createdAt', 'amount', 'updatedAt'] as const).flatMap((f) => [
  { key: { [f]: -1, _id: -1 }, name: `${f}_-1__id_-1` },
  { key: { status: 1, [f]: -1, _id: -1 }, name: `status_1_${f}_-1__id_-1` },
]);

export function findApplication(c: Collections, id: string, session?: ClientSession): Promise<ApplicationDoc | null> {
  return c.applications.findOne({ _id: id }, session ? { session } : {});
}

export function findApplications(c: Collections, ids: string[], session: ClientSession): Promise<ApplicationDoc[]> {
  return c.applications.find({ _id: { $in: ids } }, { session }).toArray();
}

/** Applications that a pipeline stage failed when it gave up on one of these events. */
export function findFailedBy(c: Collections, eventIds: string[], session: ClientSession): Promise<ApplicationDoc[]> {
  return c.applications.find({ status: 'failed', 'failure.eventId': { $in: eventIds } }, { session }).toArray();
}

export async function applicationExists(c: Collections, id: string): Promise<boolean> {
  return (await c.applications.countDocuments({ _id: id }, { limit: 1 })) === 1;
}

export function findDocumentsOf(c: Collections, id: string): Promise<(Pick<ApplicationDoc, 'documents' | 'ocr'> & { _id: string }) | null> {
  return c.applications.findOne<{ _id: string; documents?: DocumentRef[]; ocr?: OcrResult }>(
    { _id: id },
    { projection: { documents: 1, ocr: 1 } },
  );
}

/** Inserts in order, stopping at the first error (inside a transaction that aborts it all). */
export async function insertApplications(c: Collections, docs: ApplicationDoc[], session: ClientSession): Promise<void> {
  await c.applications.insertMany(docs, { session, ordered: true });
}

export interface ListQuery {
  status?: Status | undefined;
  sort: SortKey;
  page: number;
  limit: number;
  /** Keyset continuation: items strictly after this (sort value, _id) in the sort order. */
  after?: Cursor | undefined;
}

/** The index that serves `q` (hinted for keyset queries, whose $or the planner might otherwise split). */
function indexFor(q: ListQuery): string {
  const f = q.sort.replace('-', '');
  return q.status ? `status_1_${f}_-1__id_-1` : `${f}_-1__id_-1`;
}

/** The filter of `q`: the status, and for keyset pages "(field, _id) after the cursor" as an index range plus a tie-break. */
export function listFilter(q: ListQuery): Filter<ApplicationDoc> {
  const filter: Filter<ApplicationDoc> = q.status ? { status: q.status } : {};
  if (!q.after) return filter;
  const f = q.sort.replace('-', '');
  const desc = q.sort.startsWith('-');
  const [le, lt] = desc ? (['$lte', '$lt'] as const) : (['$gte', '$gt'] as const);
  return { ...filter, [f]: { [le]: q.after.value }, $or: [{ [f]: { [lt]: q.after.value } }, { _id: { [lt]: q.after.id } }] };
}

/** The page's query (also explained by the listing test): index-backed, no in-memory sort. */
export function listQuery(c: Collections, q: ListQuery) {
  const cursor = c.applications.find(listFilter(q)).sort(sortSpec(q.sort)).limit(q.limit);
  return q.after ? cursor.hint(indexFor(q)) : cursor.skip((q.page - 1) * q.limit);
}

export async function listPage(c: Collections, q: ListQuery, countTotal: CountTotal): Promise<{ items: ApplicationDoc[]; total: number }> {
  const filter: Filter<ApplicationDoc> = q.status ? { status: q.status } : {};
  const [items, total] = await Promise.all([
    listQuery(c, q).toArray(),
    countTotal(q.status ?? '*', () => c.applications.countDocuments(filter)),
  ]);
  return { items, total };
}

/** Applications per status; covered by the {status, createdAt, _id} index. */
export async function countByStatus(c: Collections): Promise<Record<string, number>> {
  const rows = await c.applications
    .aggregate<{ _id: string; n: number }>([
      { $sort: { status: 1, createdAt: -1, _id: -1 } },
      { $group: { _id: '$status', n: { $sum: 1 } } },
    ])
    .toArray();
  return Object.fromEntries(rows.map((r) => [r._id, r.n]));
}

/** Dotted $set paths so a partial applicant only touches the fields it names. */
export function setPaths(changes: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(changes)) {
    if (k === 'applicant' && v && typeof v === 'object') {
      for (const [ak, av] of Object.entries(v)) out[`applicant.${ak}`] = av;
    } else out[k] = v;
  }
  return out;
}

/** The optimistic write: applies only if the stored version still equals `version`. */
export function updateIfVersion(
  c: Collections,
  id: string,
  version: number,
  changes: object,
  actor: Actor,
  session: ClientSession,
): Promise<ApplicationDoc | null> {
  return c.applications.findOneAndUpdate(
    { _id: id, version },
    { $set: { ...setPaths(changes), updatedAt: new Date(), updatedBy: actor }, $inc: { version: 1 } },
    { session, returnDocument: 'after' },
  );
}

/** Many documents, each with its own changes, each write pinned to the version it was planned from. */
export async function setIfVersions(
  c: Collections,
  items: Array<{ doc: ApplicationDoc; set: object }>,
  actor: Actor,
  at: Date,
  session: ClientSession,
): Promise<number> {
  const res = await c.applications.bulkWrite(
    items.map(({ doc, set }) => ({
      updateOne: {
        filter: { _id: doc._id, version: doc.version },
        update: { $set: { ...setPaths(set), updatedAt: at, updatedBy: actor }, $inc: { version: 1 } },
      },
    })),
    { ordered: false, session },
  );
  return res.matchedCount;
}

/** The unique index {intake.partnerId, intake.idempotencyKey} (migration 007): its name in duplicate-key errors. */
export const IDEMPOTENCY_INDEX = 'intake_idempotency_unique';

/** The application a partner submitted under this idempotency key (unique index, migration 007). */
export function findByIntakeKey(c: Collections, partnerId: string, idempotencyKey: string): Promise<ApplicationDoc | null> {
  return c.applications.findOne({ 'intake.partnerId': partnerId, 'intake.idempotencyKey': idempotencyKey });
}

/** Application `id` if `partnerId` submitted it, with only the fields a partner's status view needs. */
export function findPartnersApplication(c: Collections, partnerId: string, id: string): Promise<StatusFields | null> {
  return c.applications.findOne<StatusFields>({ _id: id, 'intake.partnerId': partnerId }, { projection: STATUS_PROJECTION });
}

/** Up to `limit` of these applications whose status is not one of `statuses`. */
export function findNotIn(
  c: Collections,
  ids: string[],
  statuses: readonly Status[],
  limit: number,
  session: ClientSession,
): Promise<Array<Pick<ApplicationDoc, '_id' | 'status'>>> {
  return c.applications
    .find({ _id: { $in: ids }, status: { $nin: [...statuses] } }, { session, projection: { _id: 1, status: 1 } })
    .limit(limit)
    .toArray();
}

/** What a status view (lib/domain/intake/status-view.ts) and its routing read of an application. */
export type StatusFields = Pick<ApplicationDoc, '_id' | 'status' | 'updatedAt' | 'version'> & {
  intake?: Partial<Pick<NonNullable<ApplicationDoc['intake']>, 'partnerId' | 'loanId'>>;
  risk?: Partial<Pick<NonNullable<ApplicationDoc['risk']>, 'reasons'>>;
  /** While the bureau step waits: its transient reasons (VENDOR_UNAVAILABLE). */
  bureau?: { state?: string; reasons?: NonNullable<ApplicationDoc['risk']>['reasons'] };
};
const STATUS_PROJECTION = {
  status: 1,
  updatedAt: 1,
  version: 1,
  'intake.partnerId': 1,
  'intake.loanId': 1,
  'risk.reasons': 1,
  'bureau.state': 1,
  'bureau.reasons': 1,
} as const;

/** Application `id`'s status fields; with `partnerId`, only if that partner submitted it. */
export function findStatusFields(c: Collections, id: string, partnerId?: string): Promise<StatusFields | null> {
  const filter: Filter<ApplicationDoc> = partnerId === undefined ? { _id: id } : { _id: id, 'intake.partnerId': partnerId };
  return c.applications.findOne<StatusFields>(filter, { projection: STATUS_PROJECTION });
}

/**
 * A partner's applications whose updatedAt is at or after `since`, oldest first (the partner
 * status stream's catch-up). `intake.idempotencyKey: $exists` (true of every intake application)
 * lets the partial index {intake.partnerId, intake.idempotencyKey} serve the partner equality.
 */
export function findPartnersChangedSince(c: Collections, partnerId: string, since: Date) {
  return c.applications
    .find<StatusFields>(
      { 'intake.partnerId': partnerId, 'intake.idempotencyKey': { $exists: true }, updatedAt: { $gte: since } },
      { projection: STATUS_PROJECTION },
    )
    .sort({ updatedAt: 1, _id: 1 });
}

/** One event of watchStatusChanges: an insert, or an update that set `status`, projected. */
export interface StatusChangeEvent {
  _id: ResumeToken;
  operationType: 'insert' | 'update';
  documentKey: { _id: string };
  updateDescription?: { updatedFields?: Partial<Pick<ApplicationDoc, 'status' | 'version' | 'updatedAt'>> };
  /** The inserted document, or the current one looked up for an update (null when deleted since). */
  fullDocument?: StatusFields | null;
}

/**
 * The change stream of status changes on applications: inserts, and updates whose updatedFields
 * hold `status` (filtered by the server). status/version/updatedAt of an update come from its
 * updatedFields (exact for that change); the looked-up document adds partner, loanId and reasons.
 * Projected to what the status view needs (the event `_id`, the resume token, is kept).
 */
export function watchStatusChanges(c: Collections, resumeAfter: ResumeToken | undefined): ChangeStream<ApplicationDoc, StatusChangeEvent> {
  const fields = ['status', 'version', 'updatedAt'];
  return c.applications.watch<ApplicationDoc, StatusChangeEvent>(
    [
      {
        $match: {
          $or: [{ operationType: 'insert' }, { operationType: 'update', 'updateDescription.updatedFields.status': { $exists: true } }],
        },
      },
      {
        $project: {
          operationType: 1,
          documentKey: 1,
          ...Object.fromEntries(fields.map((k) => [`updateDescription.updatedFields.${k}`, 1])),
          ...Object.fromEntries(Object.keys(STATUS_PROJECTION).map((k) => [`fullDocument.${k}`, 1])),
        },
      },
    ],
    { fullDocument: 'updateLookup', ...(resumeAfter ? { resumeAfter } : {}) },
  );
}

/** Index of the console's loanId search (migration 015): partners' own references, across partners. */
export const LOAN_ID_INDEX = 'intake.loanId_1_intake.partnerId_1';

/** Applications partners submitted with this loanId (one per partner at most in practice), by the intake.loanId index. */
export function findByLoanId(c: Collections, loanId: string, limit: number): Promise<Pick<ApplicationDoc, '_id' | 'status' | 'intake'>[]> {
  return c.applications
    .find({ 'intake.loanId': loanId }, { projection: { status: 1, intake: 1 } })
    .hint(LOAN_ID_INDEX)
    .limit(limit)
    .toArray();
}

/**
 * The reconciler's stuck applications: in `status` and unchanged since before `before`, oldest
 * first (index status_1_updatedAt_-1__id_-1), at most `limit`.
 */
export function findStuck(c: Collections, status: Status, before: Date, limit: number): Promise<ApplicationDoc[]> {
  return c.applications
    .find({ status, updatedAt: { $lt: before } })
    .sort({ updatedAt: 1, _id: 1 })
    .limit(limit)
    .toArray();
}

/** How many applications are stuck per status (each counted on the same index, bounded by `cap`). */
export async function countStuck(c: Collections, cutoffs: ReadonlyArray<{ status: Status; before: Date }>, cap = 100_000) {
  const counts = await Promise.all(
    cutoffs.map(({ status, before }) => c.applications.countDocuments({ status, updatedAt: { $lt: before } }, { limit: cap })),
  );
  return Object.fromEntries(cutoffs.map((x, i) => [x.status, counts[i]!])) as Partial<Record<Status, number>>;
}

/** The application waiting for the bureau's request `requestId` (the callback's lookup; partial index bureau.requestId, migration 013). */
export function findByBureauRequest(c: Collections, requestId: string, session?: ClientSession): Promise<ApplicationDoc | null> {
  return c.applications.findOne({ 'bureau.requestId': requestId }, session ? { session } : {});
}
