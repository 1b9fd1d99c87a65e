// One reconciliation run, by the holder of the reconciler lease (reconcile-lease.ts). For every
// status in the thresholds table, the applications unchanged for longer than its threshold are
// stuck; for each, the reconciler checks the facts, then acts once:
//   - a live event of its stage (pending, rescheduled, or running) → `waiting`: the pipeline has it;
//   - ocr_pending / scoring / approved with no live event → `redriven`: the stage's event is published again,
//     with the hook's own dedupe key when it is free, else `<key>:r<n>` (n = re-drives so far + 1),
//     so two runs can never publish it twice; after RECONCILE_MAX_REDRIVES → `escalated`;
//   - disbursing with no live event → the gateway is asked for the payment under the loan's
//     idempotency key: paid → `finished` (the gateway's record + the ledger entry + disbursed in one
//     transaction, under the loan lock with its fence: settleDisbursement); not paid → `redriven`
//     (a new disbursement event; the idempotency key still makes one payment at most); gateway
//     unreachable → `deferred` to the next run;
//   - a dead-lettered stage event, a payment that differs from the approved terms, a ledger entry
//     on an unfinished disbursement, a status without an automatic re-drive (bureau_pending: the
//     bureau's callback never came) → `escalated`: needs_review, with the reason in the audit.
// Every action but `waiting`/`deferred` is audited (actor: the reconciler) in the transaction that
// makes it, after checkFence; every step is counted in the run's document.
import type { ObjectId } from 'mongodb';
import { inTransaction } from '../../db/transaction.js';
import { AppError } from '../../errors.js';
import { type Lease, LockUnavailableError, StaleFenceError, withLock } from '../../locks/index.js';
import { publish, RescheduleError } from '../../queue/index.js';
import { changeApplication } from '../applications/commands.js';
import { findApplication, findStuck } from '../applications/repository.js';
import { STATUSES, type Status } from '../applications/status.js';
import type { ApplicationDoc } from '../applications/types.js';
import { recordAction } from '../audit.js';
import type { DomainContext } from '../context.js';
import { paymentKey, settleDisbursement } from './disburse.js';
import { PaymentGatewayError, type PaymentGateway } from './payment-gateway.js';
import { checkFence } from './reconcile-lease.js';
import {
  ESCALATE_ACTION,
  FINISH_ACTION,
  hasLedgerEntry,
  isLive,
  REDRIVE_ACTION,
  redriveKey,
  redrivesOf,
  stageEvent,
  stageEvents,
} from './reconcile-facts.js';
import { MAX_STEPS, RECONCILE_ACTIONS, type ReconcileAction, type ReconciliationRunDoc, type ReconcileStep } from './reconcile-runs.js';

export const RECONCILER_ACTOR = { id: 'worker:reconciler', email: 'reconciler@creditdesk.internal' } as const;

export interface ReconcileSettings {
  /** Seconds per status; statuses this build does not know are ignored. */
  thresholds: Record<string, number>;
  maxRedrives: number;
  batch: number;
  retentionDays: number;
  /** The loan lock's TTL when finishing a disbursement. */
  loanLockTtlMs: number;
}

export interface ReconcileRun {
  ctx: DomainContext;
  settings: ReconcileSettings;
  gateway?: PaymentGateway | undefined;
  /** The reconciler lease this run holds, with its signal (aborted when the lease is lost or the worker stops). */
  lease: Lease & { signal: AbortSignal };
  owner: string;
  /** The run's id (its document's _id; audit entries name it). */
  runId: ObjectId;
}

const isStatus = (s: string): s is Status => (STATUSES as readonly string[]).includes(s);

/** The thresholds as {status, cutoff} for statuses this build has, from `now`. */
export function cutoffs(thresholds: Record<string, number>, now: number): Array<{ status: Status; before: Date }> {
  return Object.entries(thresholds)
    .filter((e): e is [Status, number] => isStatus(e[0]))
    .map(([status, s]) => ({ status, before: new Date(now - s * 1000) }));
}

/** Runs once over every configured status; returns the run's document (recorded by the caller). */
export async function reconcileOnce(r: ReconcileRun, now = Date.now()): Promise<ReconciliationRunDoc> {
  const startedAt = new Date(now);
  const counts = Object.fromEntries(RECONCILE_ACTIONS.map((a) => [a, 0])) as Record<ReconcileAction, number>;
  const steps: ReconcileStep[] = [];
  const stuck: Record<string, number> = {};
  let interrupted = false;
  for (const { status, before } of cutoffs(r.settings.thresholds, now)) {
    if (r.lease.signal.aborted) break;
    const apps = await findStuck(r.ctx.c, status, before, r.settings.batch);
    stuck[status] = apps.length;
    for (const app of apps) {
      if (r.lease.signal.aborted) {
        interrupted = true;
        break;
      }
      const step = await reconcileOne(r, app, now).catch((e: unknown): ReconcileStep => {
        // The lease was lost mid-action: stop here; the new holder re-checks the facts.
        if (e instanceof StaleFenceError) interrupted = true;
        return stepOf(app, now, 'error', e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      });
      counts[step.action]++;
      if (steps.length < MAX_STEPS) steps.push(step);
      if (interrupted) break;
    }
  }
  if (r.lease.signal.aborted) interrupted = true;
  return {
    _id: r.runId,
    startedAt,
    finishedAt: new Date(),
    owner: r.owner,
    fence: r.lease.fence,
    thresholds: r.settings.thresholds,
    stuck,
    counts,
    steps,
    interrupted,
    expiresAt: new Date(Date.now() + r.settings.retentionDays * 86_400_000),
  };
}

function stepOf(app: ApplicationDoc, now: number, action: ReconcileAction, reason: string, eventId?: string): ReconcileStep {
  return {
    applicationId: app._id,
    status: app.status,
    stuckForS: Math.max(0, Math.round((now - app.updatedAt.getTime()) / 1000)),
    action,
    reason: reason.slice(0, 500),
    ...(eventId ? { eventId } : {}),
  };
}

async function reconcileOne(r: ReconcileRun, app: ApplicationDoc, now: number): Promise<ReconcileStep> {
  if (app.status === 'ocr_pending' || app.status === 'scoring' || app.status === 'approved') return redriveStage(r, app, now);
  if (app.status === 'disbursing') return reconcileDisbursing(r, app, now);
  return escalate(r, app, now, `no automatic re-drive for ${app.status}: stuck longer than its threshold`);
}

/** ocr_pending / scoring / approved: wait for a live event, escalate a dead one, else publish the stage's event again. */
async function redriveStage(r: ReconcileRun, app: ApplicationDoc, now: number): Promise<ReconcileStep> {
  const stage = stageEvent(app);
  if (!stage) return escalate(r, app, now, `${app.status} without the document its stage needs`);
  const done = await redrivesOf(r.ctx, app._id, app.status);
  const events = await stageEvents(r.ctx, stage.baseKey, done);
  const live = events.find(isLive);
  if (live) return stepOf(app, now, 'waiting', `its ${stage.type} event is ${live.state}`, live._id.toHexString());
  if (events.some((e) => e.state === 'dead'))
    return escalate(r, app, now, `its ${stage.type} event was dead-lettered but the application is still ${app.status}`);
  if (done >= r.settings.maxRedrives) return escalate(r, app, now, `re-driven ${done} times and still ${app.status}`);
  const key = done === 0 && !events.some((e) => e.dedupeKey === stage.baseKey) ? stage.baseKey : redriveKey(stage.baseKey, done + 1);
  const why = events.length === 0 ? `no ${stage.type} event (lost)` : `its ${stage.type} event completed without moving it`;
  return redrive(r, app, now, stage.type, stage.payload, key, why);
}

/** Publishes the stage's event and audits it, in one fenced transaction (if the application has not moved meanwhile). */
async function redrive(
  r: ReconcileRun,
  app: ApplicationDoc,
  now: number,
  type: string,
  payload: Record<string, string>,
  dedupeKey: string,
  why: string,
): Promise<ReconcileStep> {
  const result = await inTransaction(r.ctx.client, async (session) => {
    await checkFence(r.ctx.db, r.lease, session);
    const current = await findApplication(r.ctx.c, app._id, session);
    if (current?.status !== app.status || current.version !== app.version) return null;
    const ev = await publish(r.ctx.db, type, payload, { dedupeKey, session });
    await recordAction(
      r.ctx.c,
      {
        entity: 'application',
        entityId: app._id,
        action: REDRIVE_ACTION,
        actor: RECONCILER_ACTOR,
        details: {
          status: app.status,
          type,
          dedupeKey,
          eventId: ev.id.toHexString(),
          why,
          runId: r.runId.toHexString(),
          fence: r.lease.fence,
        },
      },
      session,
    );
    return ev;
  });
  if (!result) return stepOf(app, now, 'waiting', 'it changed while the reconciler looked (moved on)');
  return stepOf(app, now, 'redriven', `${why}: published ${type} (${dedupeKey})`, result.id.toHexString());
}

/** disbursing: the facts are the live event, the ledger and the gateway's record for the loan's idempotency key. */
async function reconcileDisbursing(r: ReconcileRun, app: ApplicationDoc, now: number): Promise<ReconcileStep> {
  const stage = stageEvent(app)!;
  const done = await redrivesOf(r.ctx, app._id, app.status);
  const events = await stageEvents(r.ctx, stage.baseKey, done, app.disbursement?.eventId ? [app.disbursement.eventId] : []);
  const live = events.find(isLive);
  if (live) return stepOf(app, now, 'waiting', `its disbursement event is ${live.state}`, live._id.toHexString());
  if (await hasLedgerEntry(r.ctx, app._id)) return escalate(r, app, now, 'a ledger entry exists but the application is still disbursing');
  if (!app.terms) return escalate(r, app, now, 'disbursing without approved terms');

  let payment: Awaited<ReturnType<PaymentGateway['lookup']>> = null;
  if (r.gateway) {
    try {
      payment = await r.gateway.lookup(paymentKey(app._id), r.lease.signal);
    } catch (e) {
      if (e instanceof RescheduleError || e instanceof PaymentGatewayError)
        return stepOf(app, now, 'deferred', `cannot ask the payment gateway now: ${e.message}`);
      throw e;
    }
  }
  if (payment) {
    const terms = app.terms;
    if (payment.amount !== terms.amount || payment.currency !== terms.currency || payment.reference !== app._id)
      return escalate(
        r,
        app,
        now,
        `the gateway paid ${payment.amount} ${payment.currency} to ${payment.reference} (${payment.paymentId}); approved ${terms.amount} ${terms.currency}`,
      );
    return finishFromGateway(r, app, now, payment.paymentId);
  }
  if (done >= r.settings.maxRedrives) return escalate(r, app, now, `not paid; re-driven ${done} times and still disbursing`);
  const why = r.gateway ? 'the gateway has no payment for it and no event is live' : 'no event is live (ledger-only mode)';
  return redrive(r, app, now, stage.type, stage.payload, redriveKey(stage.baseKey, done + 1), why);
}

/** The gateway paid but the ledger write never happened: record that payment (no new request to the gateway). */
async function finishFromGateway(r: ReconcileRun, app: ApplicationDoc, now: number, paymentId: string): Promise<ReconcileStep> {
  r.lease.signal.throwIfAborted();
  const eventId = `reconcile:${r.runId.toHexString()}`;
  const meta = { actor: RECONCILER_ACTOR };
  try {
    const res = await settleDisbursement(
      r.ctx,
      { lockTtlMs: r.settings.loanLockTtlMs },
      { applicationId: app._id, eventId, signal: r.lease.signal, meta, from: ['disbursing'] },
      async () => paymentId,
    );
    if (res.outcome !== 'disbursed') return stepOf(app, now, 'waiting', `it moved on to ${res.status} meanwhile`);
  } catch (e) {
    if (e instanceof LockUnavailableError) return stepOf(app, now, 'waiting', 'a disbursement worker holds its loan lock');
    throw e;
  }
  await inTransaction(r.ctx.client, async (session) => {
    await checkFence(r.ctx.db, r.lease, session);
    await recordAction(
      r.ctx.c,
      {
        entity: 'application',
        entityId: app._id,
        action: FINISH_ACTION,
        actor: RECONCILER_ACTOR,
        details: { status: app.status, paymentRef: paymentId, runId: r.runId.toHexString(), fence: r.lease.fence },
      },
      session,
    );
  });
  return stepOf(app, now, 'finished', `the gateway had paid it (${paymentId}) but the ledger had no entry: recorded it`);
}

/** needs_review with the reason, audited, in one fenced transaction; an approved or disbursing one under its loan lock. */
async function escalate(r: ReconcileRun, app: ApplicationDoc, now: number, reason: string): Promise<ReconcileStep> {
  const write = () =>
    inTransaction(r.ctx.client, async (session) => {
      await checkFence(r.ctx.db, r.lease, session);
      await changeApplication(r.ctx, app, { status: 'needs_review' }, { actor: RECONCILER_ACTOR }, 'system', session);
      await recordAction(
        r.ctx.c,
        {
          entity: 'application',
          entityId: app._id,
          action: ESCALATE_ACTION,
          actor: RECONCILER_ACTOR,
          details: { status: app.status, reason, runId: r.runId.toHexString(), fence: r.lease.fence },
        },
        session,
      );
    });
  try {
    if (app.status === 'disbursing' || app.status === 'approved')
      await withLock(r.ctx.db, `loan:${app._id}`, r.settings.loanLockTtlMs, write);
    else await write();
  } catch (e) {
    if (e instanceof LockUnavailableError) return stepOf(app, now, 'waiting', 'a disbursement worker holds its loan lock');
    if (e instanceof AppError && e.status === 409) return stepOf(app, now, 'waiting', 'it changed while the reconciler looked (moved on)');
    throw e;
  }
  return stepOf(app, now, 'escalated', reason);
}
