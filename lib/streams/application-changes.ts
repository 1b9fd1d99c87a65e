// The status-change hub of one API instance: ONE MongoDB change stream on `applications`
// (lib/domain/applications/repository.ts watchStatusChanges), fanned out in memory to every
// subscriber, whichever instance or worker made the change. Never a stream per client: each open
// change stream holds a pooled connection and notification latency collapses at ~100 of them.
//
// The stream opens lazily with the first subscriber and then stays open until close(). After an
// error it is reopened (after `restartDelayMs`) with the last resume token, so nothing is missed;
// if the token is no longer in the oplog, it restarts from now and ends every subscriber, whose
// clients reconnect with Last-Event-ID and catch up from the documents.
import { MongoServerError, type ChangeStream } from 'mongodb';
import type { ResumeToken } from 'mongodb';
import type { StatusChangeEvent } from '../domain/applications/repository.js';
import { watchStatusChanges } from '../domain/applications/repository.js';
import type { ApplicationDoc } from '../domain/applications/types.js';
import type { Collections } from '../domain/collections.js';
import { type StatusView, statusView } from '../domain/intake/status-view.js';
import type { Logger } from '../logger.js';

/** One status change: the view sent to clients, and the partner that submitted the application. */
export interface StatusChange {
  view: StatusView;
  partnerId: string | undefined;
}

/** What a subscriber wants: one application, or every application of one partner. */
export type Interest = { applicationId: string } | { partnerId: string };

export interface Subscriber {
  interest: Interest;
  /** A label for the connection gauge (application, partner, admin). */
  kind: string;
  /** Called synchronously for each matching change, in the stream's (commit) order. */
  onChange(change: StatusChange): void;
  /** Called once when the hub ends the subscription (drain, or a gap in the stream). */
  onEnd(): void;
}

export interface ApplicationChangesOptions {
  /** Wait before reopening a failed stream. */
  restartDelayMs?: number;
  /** How long subscribe() waits for the stream to open before giving up. */
  openTimeoutMs?: number;
}

/** Change stream errors after which the resume token cannot be used again. */
const HISTORY_LOST = new Set([280, 286]); // ChangeStreamFatalError, ChangeStreamHistoryLost

export class ApplicationChanges {
  private readonly byApplication = new Map<string, Set<Subscriber>>();
  private readonly byPartner = new Map<string, Set<Subscriber>>();
  private readonly all = new Set<Subscriber>();
  private stream: ChangeStream<ApplicationDoc, StatusChangeEvent> | undefined;
  private token: ResumeToken | undefined;
  private running: Promise<void> | undefined;
  private opened: Promise<void> | undefined;
  private markOpened: (() => void) | undefined;
  private closed = false;
  private readonly restartDelayMs: number;
  private readonly openTimeoutMs: number;

  constructor(
    private readonly c: Collections,
    private readonly log: Logger,
    opts: ApplicationChangesOptions = {},
  ) {
    this.restartDelayMs = opts.restartDelayMs ?? 1000;
    this.openTimeoutMs = opts.openTimeoutMs ?? 10_000;
  }

  /**
   * Adds a subscriber once the change stream is open: every change committed after this resolves
   * reaches it. Returns the unsubscribe function. Throws when the hub is closed or the stream
   * could not be opened within openTimeoutMs.
   */
  async subscribe(s: Subscriber): Promise<() => void> {
    if (this.closed) throw new Error('the status change hub is closed');
    this.start();
    await this.waitOpen();
    if (this.closed) throw new Error('the status change hub is closed');
    this.all.add(s);
    const [map, key] =
      'applicationId' in s.interest ? [this.byApplication, s.interest.applicationId] : [this.byPartner, s.interest.partnerId];
    const set = map.get(key) ?? new Set<Subscriber>();
    map.set(key, set);
    set.add(s);
    return () => {
      this.all.delete(s);
      set.delete(s);
      if (set.size === 0 && map.get(key) === set) map.delete(key);
    };
  }

  /** Open subscriptions by kind (the sse_connections gauge). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.all) out[s.kind] = (out[s.kind] ?? 0) + 1;
    return out;
  }

  /** Ends every subscriber (their clients reconnect elsewhere), then closes the stream. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.endAll();
    this.markOpened?.(); // release subscribe() calls still waiting; they see `closed`
    await this.stream?.close().catch(() => {});
    await this.running;
  }

  private start(): void {
    this.opened ??= new Promise<void>((res) => {
      this.markOpened = res;
    });
    this.running ??= this.run();
  }

  private async waitOpen(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_res, rej) => {
      timer = setTimeout(() => rej(new Error('the status change stream did not open in time')), this.openTimeoutMs);
    });
    try {
      await Promise.race([this.opened, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The stream loop: tryNext() establishes the cursor (so "open" is known) and then awaits changes. */
  private async run(): Promise<void> {
    while (!this.closed) {
      const stream = watchStatusChanges(this.c, this.token);
      this.stream = stream;
      try {
        while (!this.closed) {
          const event = await stream.tryNext();
          this.token = stream.resumeToken ?? this.token;
          this.markOpened?.();
          if (event && !this.closed) this.dispatch(event);
        }
      } catch (err) {
        if (this.closed) break;
        const lost = err instanceof MongoServerError && HISTORY_LOST.has(Number(err.code));
        this.log.warn({ err, historyLost: lost }, 'status change stream failed; reopening');
        if (lost) {
          // The changes in between are gone from the oplog: clients catch up from the documents.
          this.token = undefined;
          this.endAll();
        }
        await new Promise((r) => setTimeout(r, this.restartDelayMs).unref());
      } finally {
        await stream.close().catch(() => {});
      }
    }
  }

  private dispatch(e: StatusChangeEvent): void {
    const doc = e.fullDocument;
    if (!doc) return; // deleted before the lookup: nobody needs its status any more
    const set = e.updateDescription?.updatedFields ?? {};
    // status/version/updatedAt of THIS change (exact); the rest from the document (it never changes
    // for partner and loanId; reasons are written with the decision's status).
    const view = statusView({
      _id: e.documentKey._id,
      status: set.status ?? doc.status,
      version: set.version ?? doc.version,
      updatedAt: set.updatedAt ?? doc.updatedAt,
      intake: doc.intake,
      risk: doc.risk,
    });
    const change: StatusChange = { view, partnerId: doc.intake?.partnerId };
    const targets = [...(this.byApplication.get(view.id) ?? []), ...(change.partnerId ? (this.byPartner.get(change.partnerId) ?? []) : [])];
    for (const s of targets) {
      try {
        s.onChange(change);
      } catch (err) {
        this.log.warn({ err }, 'a status subscriber failed');
      }
    }
  }

  private endAll(): void {
    const subs = [...this.all];
    this.all.clear();
    this.byApplication.clear();
    this.byPartner.clear();
    for (const s of subs) s.onEnd();
  }
}
