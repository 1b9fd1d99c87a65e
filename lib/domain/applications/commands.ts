// Use cases that change applications. Each change, its audit entry and whatever its hooks write
// (the pipeline's outbox event) commit in one transaction, or none of them does.
import type { ClientSession } from 'mongodb';
import { inTransaction } from '../../db/transaction.js';
import { AppError, conflict, notFound, unprocessable } from '../../errors.js';
import type { Actor } from '../users/types.js';
import { type AuditDoc, authorsFromAudit, diff, recordAudit } from '../audit.js';
import type { DomainContext, Meta } from '../context.js';
import { type ApprovalPolicy, changesTerms, frozenFieldsChanged, planApproval, termsOf } from './approval-policy.js';
import { findApplication, findApplications, insertApplications, setIfVersions, updateIfVersion } from './repository.js';
import type { ApplicationChanges, CreateApplicationInput } from './schemas.js';
import { canTransition, type Status } from './status.js';
import { newTrackingId } from './tracking-id.js';
import { type ApplicationDoc, type Intake, type PipelineFields, TERM_FIELDS } from './types.js';
import { toView } from './view.js';

/** What a change may set: the fields a reviewer edits, the ones the pipeline stages write, and the
 * bookkeeping planChange adds (who changed the terms, the approved terms snapshot). */
export type ApplicationUpdate = ApplicationChanges & Partial<PipelineFields> & Partial<Pick<ApplicationDoc, 'termsChangedBy' | 'terms'>>;
/** `manual`: a person through the API (only manual transitions); `system`: the pipeline. */
export type ChangedBy = 'manual' | 'system';
/** Who changes an application and under which approval policy (needed for manual approvals). */
export interface Changer {
  by: ChangedBy;
  actor: Actor;
  policy?: ApprovalPolicy | undefined;
}

function auditEntry(before: ApplicationDoc | null, after: ApplicationDoc, action: string, changes: object, meta: Meta): AuditDoc {
  return {
    entity: 'application',
    entityId: after._id,
    action,
    actor: meta.actor,
    at: after.updatedAt,
    fromVersion: before?.version ?? null,
    toVersion: after.version,
    changes: diff(before ?? {}, changes),
    ...(meta.requestId ? { requestId: meta.requestId } : {}),
  };
}

type Plan =
  | { kind: 'unchanged' }
  | { kind: 'invalid_transition'; from: Status; to: Status }
  | { kind: 'frozen'; fields: string[] }
  | { kind: 'refused'; reason: string }
  | { kind: 'write'; full: ApplicationUpdate };

/**
 * What `changes` mean for `current`, for PUT, batch-update and the pipeline alike: nothing to
 * write when every value is already stored (a same-status change included), frozen terms, an
 * illegal status move, an approval the four-eyes rules refuse, or the fields to write (a partial
 * applicant merged, so the audit diff compares whole values; approvals and the terms snapshot
 * added by approval-policy.ts).
 */
export function planChange(current: ApplicationDoc, changes: ApplicationUpdate, who: Changer): Plan {
  const full: ApplicationUpdate = changes.applicant
    ? { ...changes, applicant: { ...current.applicant, ...changes.applicant } }
    : { ...changes };
  if (Object.keys(diff(current, full)).length === 0) return { kind: 'unchanged' };
  const frozen = frozenFieldsChanged(current, full);
  if (frozen.length > 0) return { kind: 'frozen', fields: frozen };
  if (changes.status && changes.status !== current.status && !canTransition(current.status, changes.status, who.by)) {
    return { kind: 'invalid_transition', from: current.status, to: changes.status };
  }
  const termsChanged = changesTerms(current, full);
  if (termsChanged) full.termsChangedBy = who.actor;
  if (who.by === 'manual' && full.status === 'approved' && current.status !== 'approved') {
    if (!who.policy) throw new Error('a manual approval needs the approval policy');
    const a = planApproval(current, who.actor, who.policy, termsChanged ? who.actor : current.termsChangedBy);
    if (a.kind === 'refused') return a;
    full.status = a.status;
    full.approvals = a.approvals;
  }
  if (full.status === 'approved' && current.status !== 'approved') {
    full.terms = termsOf({ amount: full.amount ?? current.amount }, who.actor, new Date());
  }
  return { kind: 'write', full };
}

/** The error a refused plan means over HTTP. */
function refusal(plan: Exclude<Plan, { kind: 'write' | 'unchanged' }>): AppError {
  if (plan.kind === 'frozen') {
    return new AppError(
      422,
      'terms_frozen',
      `${plan.fields.join(', ')} cannot change once the application has left submitted/under_review`,
      {
        frozen: plan.fields,
      },
    );
  }
  if (plan.kind === 'refused') return new AppError(403, 'four_eyes', plan.reason);
  return unprocessable(`status cannot change from ${plan.from} to ${plan.to}`, { from: plan.from, to: plan.to });
}

/** How an application enters: an admin's (submitted), or a partner's intake (straight into scoring). */
export interface Entry {
  status: Extract<Status, 'submitted' | 'scoring'>;
  intake?: Intake;
}

/**
 * Creates an application, its audit entry and (through the hooks) its first event in one
 * transaction. A partner's intake enters at `scoring`: the hook publishes approval.requested.
 */
export async function createApplication(
  ctx: DomainContext,
  input: CreateApplicationInput,
  meta: Meta,
  entry: Entry = { status: 'submitted' },
): Promise<ApplicationDoc> {
  const [doc] = await createApplications(ctx, [{ input, meta, entry }]);
  return doc!;
}

/** One application to create, for createApplications. */
export interface NewApplication {
  input: CreateApplicationInput;
  meta: Meta;
  entry: Entry;
}

/**
 * Creates several applications in ONE transaction (a group commit): one insertMany of the
 * applications, one of their audit entries, one bulk write of their outbox events — all or none.
 * A duplicate idempotency key aborts the whole transaction with the driver's duplicate-key error
 * naming the position of the first colliding application (see duplicatePosition); nothing is written.
 */
export async function createApplications(ctx: DomainContext, list: readonly NewApplication[]): Promise<ApplicationDoc[]> {
  const now = new Date();
  const docs = list.map(
    ({ input, meta, entry }): ApplicationDoc => ({
      _id: newTrackingId(now.getTime()),
      ...input,
      status: entry.status,
      ...(entry.intake ? { intake: entry.intake } : {}),
      version: 1,
      createdAt: now,
      updatedAt: now,
      updatedBy: meta.actor,
      createdBy: meta.actor,
      termsChangedBy: meta.actor,
    }),
  );
  return inTransaction(ctx.client, async (session) => {
    await insertApplications(ctx.c, docs, session);
    await recordAudit(
      ctx.c,
      docs.map((doc, i) => auditEntry(null, doc, 'create', { ...list[i]!.input, status: doc.status }, list[i]!.meta)),
      session,
    );
    await ctx.hooks.afterChanges(
      docs.map((after, i) => ({ before: null, after, meta: list[i]!.meta })),
      session,
    );
    return docs;
  });
}

/**
 * Applies `changes` to `current` (read by the caller) if the stored version still equals
 * current.version: no second read, the version filter of the write is the check. 409 when it
 * changed meanwhile, 422 for an illegal status move; an unchanged document is returned as it is.
 * Runs in its own transaction, or in the caller's `session` when given.
 */
export async function changeApplication(
  ctx: DomainContext,
  current: ApplicationDoc,
  changes: ApplicationUpdate,
  meta: Meta,
  by: ChangedBy,
  session?: ClientSession,
  policy?: ApprovalPolicy,
): Promise<ApplicationDoc> {
  const plan = planChange(current, changes, { by, actor: meta.actor, policy });
  if (plan.kind === 'unchanged') return current;
  if (plan.kind !== 'write') throw refusal(plan);
  const write = async (s: ClientSession) => {
    const after = await updateIfVersion(ctx.c, current._id, current.version, plan.full, meta.actor, s);
    if (!after) throw conflict(`application ${current._id} changed concurrently`, { currentVersion: current.version + 1 });
    await recordAudit(ctx.c, [auditEntry(current, after, changes.status ? 'status' : 'update', plan.full, meta)], s);
    await ctx.hooks.afterChanges([{ before: current, after, meta }], s);
    return after;
  };
  return session ? write(session) : inTransaction(ctx.client, write);
}

/**
 * PUT semantics: applies `changes` only if the stored version equals `version`; 409 otherwise.
 * A person's change: manual transitions only, approvals under `policy`.
 */
export async function updateApplication(
  ctx: DomainContext,
  id: string,
  version: number,
  changes: ApplicationChanges,
  meta: Meta,
  policy: ApprovalPolicy,
): Promise<ApplicationDoc> {
  const current = await findApplication(ctx.c, id);
  if (!current) throw notFound(`application ${id} does not exist`);
  if (current.version !== version) {
    throw conflict(`version ${version} is stale; the application is at version ${current.version}`, {
      currentVersion: current.version,
      current: toView(current),
    });
  }
  const [known] = await withAuthors(ctx, [current]);
  return changeApplication(ctx, known!, changes, meta, 'manual', undefined, policy);
}

/** Fills createdBy/termsChangedBy from the audit trail for documents stored before they existed. */
async function withAuthors(ctx: DomainContext, docs: ApplicationDoc[], session?: ClientSession): Promise<ApplicationDoc[]> {
  const legacy = docs.filter((d) => !d.createdBy).map((d) => d._id);
  if (legacy.length === 0) return docs;
  const authors = await authorsFromAudit(ctx.c, legacy, TERM_FIELDS, session);
  return docs.map((d) => (d.createdBy ? d : { ...d, ...authors.get(d._id) }));
}

/**
 * The pipeline's server-side read-modify-write (system transitions): asks `mutate` for the changes to the current document (null =
 * nothing to do) and writes them with a version check, re-reading and retrying on conflict up to
 * `maxAttempts`. Pass the document when the caller has just read it, so the first attempt does
 * not read it again.
 */
export async function updateWithRetry(
  ctx: DomainContext,
  target: string | ApplicationDoc,
  mutate: (doc: ApplicationDoc) => ApplicationUpdate | null,
  meta: Meta,
  opts: { maxAttempts?: number } = {},
): Promise<ApplicationDoc> {
  const id = typeof target === 'string' ? target : target._id;
  let doc = typeof target === 'string' ? null : target;
  const maxAttempts = opts.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    doc ??= await findApplication(ctx.c, id);
    if (!doc) throw notFound(`application ${id} does not exist`);
    const changes = mutate(doc);
    if (!changes) return doc;
    try {
      return await changeApplication(ctx, doc, changes, meta, 'system');
    } catch (e) {
      if (!(e instanceof AppError && e.status === 409) || attempt >= maxAttempts) throw e;
      doc = null;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}

export type BatchResult = {
  id: string;
  result: 'updated' | 'unchanged' | 'conflict' | 'not_found' | 'invalid_transition' | 'refused';
  version?: number;
  /** The status written (awaiting_second_approval when a first approval needs a second). */
  status?: Status;
  reason?: string;
};
export const BATCH_RESULTS = ['updated', 'unchanged', 'conflict', 'not_found', 'invalid_transition', 'refused'] as const;

/**
 * Moves many applications to `status` in one transaction with one read, one bulkWrite and one
 * audit insert, whatever the batch size. `versions` (optional) pins expected versions per id.
 * Each item is decided by planChange, as a PUT would be (four-eyes and dual approval per item).
 */
export async function batchUpdateStatus(
  ctx: DomainContext,
  ids: string[],
  status: Status,
  versions: Record<string, number> | undefined,
  meta: Meta,
  policy: ApprovalPolicy,
): Promise<BatchResult[]> {
  const unique = [...new Set(ids)];
  return inTransaction(ctx.client, async (session) => {
    const docs = new Map((await withAuthors(ctx, await findApplications(ctx.c, unique, session), session)).map((d) => [d._id, d]));
    const results: BatchResult[] = [];
    const planned: Array<{ doc: ApplicationDoc; set: ApplicationUpdate }> = [];
    for (const id of unique) {
      const d = docs.get(id);
      const expected = versions ? (Object.hasOwn(versions, id) ? versions[id] : undefined) : undefined;
      if (!d) {
        results.push({ id, result: 'not_found' });
        continue;
      }
      if (expected !== undefined && expected !== d.version) {
        results.push({ id, result: 'conflict', version: d.version });
        continue;
      }
      const plan = planChange(d, { status }, { by: 'manual', actor: meta.actor, policy });
      if (plan.kind === 'write') {
        planned.push({ doc: d, set: plan.full });
        results.push({ id, result: 'updated', version: d.version + 1, ...(plan.full.status ? { status: plan.full.status } : {}) });
      } else if (plan.kind === 'refused') results.push({ id, result: 'refused', version: d.version, reason: plan.reason });
      else if (plan.kind === 'frozen') results.push({ id, result: 'refused', version: d.version, reason: 'terms are frozen' });
      else results.push({ id, result: plan.kind, version: d.version });
    }
    if (planned.length === 0) return results;
    const now = new Date();
    const matched = await setIfVersions(ctx.c, planned, meta.actor, now, session);
    // Inside a snapshot transaction a concurrent change aborts us with a write conflict (and the
    // driver retries the whole batch), so every planned update must have matched.
    if (matched !== planned.length) throw new Error(`batch matched ${matched} of ${planned.length}`);
    const afters: ApplicationDoc[] = planned.map(({ doc, set }) => ({
      ...doc,
      ...set,
      applicant: doc.applicant,
      version: doc.version + 1,
      updatedAt: now,
      updatedBy: meta.actor,
    }));
    await recordAudit(
      ctx.c,
      afters.map((a, i) => auditEntry(planned[i]!.doc, a, 'status', planned[i]!.set, meta)),
      session,
    );
    await ctx.hooks.afterChanges(
      afters.map((after, i) => ({ before: planned[i]!.doc, after, meta })),
      session,
    );
    return results;
  });
}
