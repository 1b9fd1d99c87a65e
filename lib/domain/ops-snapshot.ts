// What the operations console reads besides its time series: the live snapshot (queue statistics,
// who paused which type and when, the intake pause, vendor breakers, applications by status) and
// one application's timeline (audit trail + its pipeline events with every attempt + its
// error-log entries), found by tracking id or by a partner's loanId.
import type { Db } from 'mongodb';
import { ERROR_LOG_INDEX } from './error-log/indexes.js';
import { circuitBreakersCollection, type BreakerState } from '../limits/circuit-breaker-store.js';
import { controlsCollection } from '../queue/collection.js';
import { eventsCollection, pausedTypes, queueStats, type QueueStats } from '../queue/index.js';
import type { EventState } from '../queue/types.js';
import { historyOf } from './audit.js';
import { countByStatus, findApplication, findByLoanId } from './applications/repository.js';
import type { DomainContext } from './context.js';
import { intakeState, type IntakeState } from './intake/controls.js';

export interface OpsSnapshot {
  at: string;
  queue: QueueStats;
  paused: string[];
  /** Every type ever paused or resumed: its state, and who paused it when (at = last change). */
  controls: Array<{ type: string; paused: boolean; by: string | null; at: string }>;
  intake: { paused: boolean; by: string | null; since: string | null };
  breakers: Array<{ vendor: string; state: BreakerState; forced: boolean; changedAt: string }>;
  applications: Record<string, number>;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export async function opsSnapshot(ctx: Pick<DomainContext, 'db' | 'c'>): Promise<OpsSnapshot> {
  const [queue, paused, controls, intake, breakers, applications] = await Promise.all([
    queueStats(ctx.db),
    pausedTypes(ctx.db),
    controlsCollection(ctx.db).find({}).sort({ _id: 1 }).limit(200).toArray(),
    intakeState(ctx.db),
    circuitBreakersCollection(ctx.db)
      .find({}, { projection: { state: 1, forced: 1, changedAt: 1 } })
      .sort({ _id: 1 })
      .limit(100)
      .toArray(),
    countByStatus(ctx.c),
  ]);
  return {
    at: new Date().toISOString(),
    queue,
    paused,
    controls: controls.map((x) => ({ type: x._id, paused: x.paused, by: x.by ?? null, at: x.at.toISOString() })),
    intake: intakeView(intake),
    breakers: breakers.map((b) => ({ vendor: b._id, state: b.state, forced: b.forced === true, changedAt: b.changedAt.toISOString() })),
    applications,
  };
}

const intakeView = (s: IntakeState) => ({ paused: s.paused, by: s.by, since: iso(s.since) });

/** One line of an application's timeline, oldest first. */
export interface TimelineEntry {
  at: string;
  kind: 'audit' | 'event' | 'attempt' | 'error';
  title: string;
  detail: string;
  by: string | null;
}

export interface ApplicationTimeline {
  id: string;
  status: string;
  loanId: string | null;
  partnerId: string | null;
  entries: TimelineEntry[];
}

/**
 * The pipeline events of an application, found through the dedupe keys the pipeline gives them
 * (lib/domain/pipeline/hooks.ts: `approval:<id>:v<n>`, `disbursement:<id>:v<n>`, `ocr:<documentId>`):
 * anchored prefixes and exact keys on the unique dedupeKey index, no scan.
 */
function eventsOf(db: Db, id: string, documentIds: string[]) {
  const esc = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return eventsCollection(db)
    .find({
      dedupeKey: { $in: [new RegExp(`^approval:${esc}:v`), new RegExp(`^disbursement:${esc}:v`), ...documentIds.map((d) => `ocr:${d}`)] },
    })
    .project<{
      _id: unknown;
      type: string;
      state: EventState;
      createdAt: Date;
      completedAt?: Date;
      deadAt?: Date;
      errors: Array<{ attempt: number; at: Date; message: string }>;
      attempts: number;
    }>({
      type: 1,
      state: 1,
      createdAt: 1,
      completedAt: 1,
      deadAt: 1,
      errors: 1,
      attempts: 1,
    })
    .limit(200)
    .toArray();
}

/** The timeline of application `id`, or null when there is none. */
export async function applicationTimeline(ctx: Pick<DomainContext, 'db' | 'c'>, id: string): Promise<ApplicationTimeline | null> {
  const app = await findApplication(ctx.c, id);
  if (!app) return null;
  const [audit, events, errors] = await Promise.all([
    historyOf(ctx.c, id),
    eventsOf(
      ctx.db,
      id,
      (app.documents ?? []).map((d) => d.id),
    ),
    ctx.c.errorLog.find({ applicationId: id }).hint(ERROR_LOG_INDEX.application).sort({ lastSeen: -1, _id: -1 }).limit(50).toArray(),
  ]);
  const entries: TimelineEntry[] = [];
  for (const a of audit) {
    const fields = Object.keys(a.changes ?? {}).join(', ');
    entries.push({ at: a.at.toISOString(), kind: 'audit', title: a.action, detail: fields ? `changed ${fields}` : '', by: a.actor.email });
  }
  for (const e of events) {
    entries.push({
      at: e.createdAt.toISOString(),
      kind: 'event',
      title: `${e.type} published`,
      detail: `now ${e.state}, ${e.attempts} attempt(s)`,
      by: null,
    });
    for (const x of e.errors ?? [])
      entries.push({
        at: x.at.toISOString(),
        kind: 'attempt',
        title: `${e.type} attempt ${x.attempt} failed`,
        detail: x.message,
        by: null,
      });
    if (e.completedAt) entries.push({ at: e.completedAt.toISOString(), kind: 'event', title: `${e.type} completed`, detail: '', by: null });
    if (e.deadAt) entries.push({ at: e.deadAt.toISOString(), kind: 'event', title: `${e.type} dead-lettered`, detail: '', by: null });
  }
  for (const x of errors)
    entries.push({
      at: x.lastSeen.toISOString(),
      kind: 'error',
      title: `${x.code} (${x.category})`,
      detail: `${x.message} ×${x.count}`,
      by: null,
    });
  entries.sort((a, b) => a.at.localeCompare(b.at));
  return { id: app._id, status: app.status, loanId: app.intake?.loanId ?? null, partnerId: app.intake?.partnerId ?? null, entries };
}

/** Tracking ids of the applications partners submitted with this loanId (at most 20; index intake.loanId, migration 015). */
export async function applicationsByLoanId(
  ctx: Pick<DomainContext, 'c'>,
  loanId: string,
): Promise<Array<{ id: string; partnerId: string; status: string }>> {
  const docs = await findByLoanId(ctx.c, loanId, 20);
  return docs.map((d) => ({ id: d._id, partnerId: d.intake?.partnerId ?? '', status: d.status }));
}
