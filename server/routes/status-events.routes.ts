// Server-Sent Events of application status changes (docs/adr/0016-status-streams.md):
//   partner (Bearer key): GET /api/loan/request/:id/events  one of its own applications (else 404)
//                         GET /api/loan/requests/events     every application of the partner
//   admin (session):      GET /api/applications/:id/events  any application (viewer and up)
// Every stream is fed by the instance's one change stream (lib/streams/application-changes.ts).
// On connect it first sends what the client missed, read from MongoDB, then live changes, with no
// gap and no duplicate across the handover (lib/streams/handover.ts).
//
// `id:` of a per-application stream is the application's version; on reconnect with
// Last-Event-ID n the current state is sent unless its version is n ("latest state": the final
// status is never missed, intermediate ones during a disconnect may be). `id:` of the partner
// stream is a watermark, a time in ms (see the partner stream below).
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { findPartnersChangedSince, findStatusFields, type StatusFields } from '../../lib/domain/applications/repository.js';
import { applicationId } from '../../lib/domain/applications/schemas.js';
import { type StatusView, statusView } from '../../lib/domain/intake/status-view.js';
import { AppError, badRequest, notFound } from '../../lib/errors.js';
import type { Interest } from '../../lib/streams/application-changes.js';
import { Handover } from '../../lib/streams/handover.js';
import type { ApiContext } from '../context.js';
import { partnerOf } from '../middleware/partner-auth.js';
import { routes } from '../openapi/operation.js';
import { SseResponse } from '../streams/sse.js';
import { StreamCaps } from '../streams/stream-caps.js';

const idParams = z.strictObject({ id: applicationId });
/** Per-application Last-Event-ID: a version. */
const versionId = z.string().regex(/^[1-9][0-9]{0,9}$/, 'must be a version (a positive integer)');
/** Partner-stream Last-Event-ID: a watermark in ms since the epoch. */
const watermarkId = z.string().regex(/^[0-9]{1,15}$/, 'must be an event id this stream sent (a non-negative integer)');

/** A client that stopped reading is cut off beyond this (it reconnects and catches up). */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Live changes buffered while a catch-up is sent; beyond it the stream ends (the client reconnects). */
const MAX_HANDOVER_BUFFER = 10_000;

const draining = () => new AppError(503, 'draining', 'this instance is shutting down; reconnect', { retryAfterSeconds: 1 });

function lastEventId(req: Request, schema: z.ZodString): string | undefined {
  const raw = req.get('last-event-id');
  if (raw === undefined || raw === '') return undefined;
  const r = schema.safeParse(raw);
  if (!r.success) {
    throw badRequest('invalid Last-Event-ID header', {
      errors: [{ in: 'headers', path: 'last-event-id', message: r.error.issues[0]?.message }],
    });
  }
  return r.data;
}

interface StreamSpec {
  kind: 'application' | 'partner' | 'admin';
  interest: Interest;
  /** Who the concurrency cap counts (a partner key, a user). */
  owner: string;
  max: number;
  /** Runs once the subscription is registered, before the headers: may throw (404). */
  prepare(h: Handover): Promise<CatchUp>;
}

interface CatchUp {
  /** States the client missed, read from MongoDB, in the order to send them. */
  items: AsyncIterable<StatusFields> | Iterable<StatusFields>;
  /** The `id:` of a delivered state. */
  idOf(view: StatusView, phase: 'catch-up' | 'live'): string;
  /** Called once the catch-up and the buffered live changes are sent: an id-only line, if any. */
  afterCatchUp?(): string | undefined;
}

/** What every status stream documents: an SSE body of `event: status` frames, and its refusals. */
const streamResponses = {
  200: {
    description:
      'text/event-stream: `event: status` frames, data = the loan request status ({id, loanId, status, reasons, updatedAt, version}); heartbeat comments',
    contentType: 'text/event-stream',
  },
  404: { description: 'no such application (or another partner’s)' },
  429: { description: 'too many concurrent streams for this key or user (Retry-After)' },
  503: { description: 'the instance is draining: reconnect (Retry-After)' },
};
const tags = ['status streams'];

export function statusEventRoutes(d: ApiContext): { partner: Router; admin: Router } {
  const caps = new StreamCaps();
  const sseOptions = { heartbeatMs: d.cfg.SSE_HEARTBEAT_MS, retryMs: d.cfg.SSE_RETRY_MS, maxBufferedBytes: MAX_BUFFERED_BYTES };

  /** Slot → subscribe → read the catch-up → 200 → catch-up → buffered live changes → live changes. */
  async function serve(res: Response, spec: StreamSpec): Promise<void> {
    if (d.lifecycle.draining) throw draining();
    const release = caps.take(spec.owner, spec.max);
    if (!release) {
      throw new AppError(429, 'too_many_streams', `at most ${spec.max} concurrent status streams are allowed here`, {
        retryAfterSeconds: 5,
      });
    }
    const sse = new SseResponse(res, sseOptions);
    let catchUp: CatchUp | undefined;
    let phase: 'catch-up' | 'live' = 'catch-up';
    // Only catch-up states are delivered before finish(); live changes wait in the buffer until then.
    const handover = new Handover(
      (view) => sse.event(catchUp!.idOf(view, phase), 'status', view),
      MAX_HANDOVER_BUFFER,
      () => sse.end(),
    );
    let unsubscribe: (() => void) | undefined;
    const cleanup = () => {
      unsubscribe?.();
      release();
    };
    res.once('close', cleanup);
    try {
      unsubscribe = await d.statusChanges.subscribe({
        interest: spec.interest,
        kind: spec.kind,
        onChange: (c) => handover.live(c.view),
        onEnd: () => sse.end(),
      });
      catchUp = await spec.prepare(handover);
    } catch (e) {
      cleanup();
      if (e instanceof AppError) throw e;
      d.log.warn({ err: e }, 'a status stream could not start');
      throw new AppError(503, 'stream_unavailable', 'status streams are unavailable right now; reconnect', { retryAfterSeconds: 1 });
    }
    if (sse.closed) {
      // ended while preparing (the instance began draining): another instance can serve it
      cleanup();
      throw draining();
    }
    sse.open();
    const cu = catchUp;
    try {
      for await (const doc of cu.items) {
        if (sse.closed) break;
        const before = res.writableLength;
        handover.caughtUp(statusView(doc));
        if (res.writableLength !== before) await sse.drained();
      }
    } catch (err) {
      d.log.warn({ err }, 'reading a status stream catch-up failed; ending the stream');
      sse.end();
      return;
    }
    phase = 'live';
    handover.finish();
    const id = cu.afterCatchUp?.();
    if (id !== undefined) sse.id(id);
  }

  /** The per-application stream: `id:` is the version; the current state first unless the client has it. */
  const applicationStream = (id: string, partnerId: string | undefined, last: string | undefined) => async (h: Handover) => {
    const doc = await findStatusFields(d.c, id, partnerId);
    if (!doc) throw notFound(partnerId ? `loan request ${id} does not exist` : `application ${id} does not exist`);
    const known = last === undefined ? undefined : Number(last);
    // The client has exactly this version: nothing to catch up, and live copies of it are dropped.
    if (known === doc.version) h.known(id, known);
    return { items: known === doc.version ? [] : [doc], idOf: (v: StatusView) => String(v.version) };
  };

  const partner = Router();
  routes(partner).get(
    '/request/:id/events',
    {
      summary: 'Server-Sent Events of one of this partner’s loan requests: every status change; id = version',
      tags,
      security: 'partner',
      params: idParams,
      headers: { 'Last-Event-ID': 'the last version received: the current state is sent first unless it is that version' },
      responses: streamResponses,
    },
    async ({ params: { id } }, req, res) => {
      const last = lastEventId(req, versionId);
      const p = partnerOf(res);
      await serve(res, {
        kind: 'application',
        interest: { applicationId: id },
        owner: `key:${p.keyId}`,
        max: d.cfg.SSE_STREAMS_PER_KEY,
        prepare: applicationStream(id, p.partnerId, last),
      });
    },
  );

  /**
   * The partner stream. `id:` is a watermark W (ms): during a catch-up each state's own updatedAt
   * (the catch-up is sorted by it, so a cut catch-up resumes where it stopped), then at least the
   * time the subscription started, and from then on the highest updatedAt delivered. Reconnecting
   * with W sends the current state of every application of the partner whose updatedAt ≥
   * W − SSE_RESUME_LOOKBACK_MS (oldest first), then live changes. The lookback absorbs commit
   * latency, stream lag and clock skew between the processes that stamp updatedAt. Guarantee: the
   * latest state of every application that changed while the client was away (no final status
   * missed); a state the client already had may be sent again after a reconnect.
   */
  routes(partner).get(
    '/requests/events',
    {
      summary: 'Server-Sent Events of every loan request of this partner; id = a watermark (ms)',
      tags,
      security: 'partner',
      query: z.strictObject({}),
      headers: { 'Last-Event-ID': 'the last id received: the latest state of what changed since is sent first' },
      responses: streamResponses,
    },
    async (_i, req, res) => {
      const last = lastEventId(req, watermarkId);
      const p = partnerOf(res);
      let mark = last === undefined ? 0 : Number(last);
      const subscribedAt = Date.now();
      await serve(res, {
        kind: 'partner',
        interest: { partnerId: p.partnerId },
        owner: `key:${p.keyId}`,
        max: d.cfg.SSE_STREAMS_PER_KEY,
        async prepare() {
          const items = last === undefined ? [] : findPartnersChangedSince(d.c, p.partnerId, new Date(mark - d.cfg.SSE_RESUME_LOOKBACK_MS));
          return {
            items,
            idOf(v, phase) {
              mark = phase === 'catch-up' ? v.updatedAt.getTime() : Math.max(mark, v.updatedAt.getTime());
              return String(mark);
            },
            afterCatchUp() {
              mark = Math.max(mark, subscribedAt);
              return String(mark);
            },
          };
        },
      });
    },
  );

  const admin = Router();
  routes(admin).get(
    '/:id/events',
    {
      summary: 'Server-Sent Events of any application’s status changes; id = version',
      tags,
      security: 'session',
      role: 'viewer',
      params: idParams,
      headers: { 'Last-Event-ID': 'the last version received' },
      responses: streamResponses,
    },
    async ({ params: { id } }, req, res) => {
      const last = lastEventId(req, versionId);
      const user = req.session.user!;
      await serve(res, {
        kind: 'admin',
        interest: { applicationId: id },
        owner: `user:${user.id}`,
        max: d.cfg.SSE_STREAMS_PER_USER,
        prepare: applicationStream(id, undefined, last),
      });
    },
  );

  return { partner, admin };
}
