// One circuit breaker per vendor, shared by every process through its `circuit_breakers` document
// (circuit-breaker-store.ts). closed → open when, over the last `windowBuckets` buckets of
// `bucketMs`, at least `minCalls` outcomes were recorded and failures/calls ≥ `failureRatio`;
// open → half_open once `coolDownMs` passed by the server clock; in half_open exactly one process
// — the holder of the lib/locks lease "circuit:<vendor>:probe", whose fence is registered on the
// document — gets a probe permit; its success closes the breaker, its failure reopens it. Every
// transition is a compare-and-set on `generation`, so two processes never both apply one.
//
// Per process: the state is read through a cache of `cacheMs` (not per call), and outcomes are
// summed in memory and written every `flushMs` as one $inc-like pipeline update per generation
// (flushMs = 0: one update per call). A process learns of a transition made elsewhere within cacheMs.
import type { Db } from 'mongodb';
import { acquire, release, type Lease } from '../locks/index.js';
import {
  addOutcomes,
  type BreakerState,
  type CircuitBreakerDoc,
  ensureBreakerDoc,
  readBreaker,
  registerProbe,
  type Transition,
  transition,
} from './circuit-breaker-store.js';

export interface BreakerOptions {
  vendor: string;
  /** Who this process is (the probe lease's owner, transitions' `by`). */
  owner: string;
  /** The sliding window: windowBuckets × bucketMs (e.g. 10 × 1000). */
  windowBuckets: number;
  bucketMs: number;
  /** Fewer outcomes than this in the window never trip it. */
  minCalls: number;
  /** failures / calls at or above this trips it (0 < r ≤ 1). */
  failureRatio: number;
  coolDownMs: number;
  /** The probe lease's TTL: a prober that died is replaced after it. Must exceed the probe call's timeout. */
  probeLeaseMs: number;
  /** How long this process trusts its copy of the state. */
  cacheMs: number;
  /** Outcomes are written at most this often (0: every call). */
  flushMs: number;
  /** A failed background write (outcome flush); the outcomes it carried are dropped. */
  onError?: (err: unknown) => void;
}

export type Outcome = 'success' | 'failure';

export interface ProbeLease {
  lease: Lease;
  generation: number;
}

export type Permit = { allowed: true; generation: number; probe?: ProbeLease } | { allowed: false; retryAt: Date; state: BreakerState };

export type AllowedPermit = Extract<Permit, { allowed: true }>;

export interface BreakerView {
  vendor: string;
  state: BreakerState;
  generation: number;
  calls: number;
  failures: number;
  failureRatio: number;
  openUntil: Date | null;
  forced: boolean;
  probeOwner: string | null;
  changedAt: Date;
  counts: Record<BreakerState, number>;
  transitions: Transition[];
}

export class CircuitBreaker {
  private doc: CircuitBreakerDoc | undefined;
  private readAt = 0;
  /** Server clock minus local clock, from the last document read. */
  private skewMs = 0;
  private refreshing: Promise<CircuitBreakerDoc> | undefined;
  private readonly pending = new Map<number, { ok: number; fail: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** A probe permit of this process is out (not yet recorded). */
  private probing = false;
  private nextProbeTryAt = 0;
  /** Round trips, for the "cheap recording" claim and metrics. */
  readonly stats = { stateReads: 0, outcomeWrites: 0, transitions: 0, probesGranted: 0 };

  constructor(
    private readonly db: Db,
    readonly opts: BreakerOptions,
  ) {
    if (!(opts.failureRatio > 0 && opts.failureRatio <= 1)) throw new RangeError('failureRatio must be in (0, 1]');
    if (opts.windowBuckets < 1 || opts.bucketMs < 1 || opts.minCalls < 1)
      throw new RangeError('windowBuckets, bucketMs and minCalls must be ≥ 1');
  }

  private get probeKey(): string {
    return `circuit:${this.opts.vendor}:probe`;
  }

  /** May this process call the vendor now? Never waits for the vendor; at most one or two MongoDB round trips. */
  async permit(): Promise<Permit> {
    let d = await this.current();
    if (d.state === 'closed') return { allowed: true, generation: d.generation };
    if (d.state === 'open') {
      const now = Date.now() + this.skewMs;
      if (d.openUntil === null || d.openUntil.getTime() > now) return this.deny(d, d.openUntil?.getTime() ?? now + this.opts.coolDownMs);
      // Cool-down over: one process's CAS moves it to half-open; the others read the winner's document.
      const moved = await this.move(d, 'half_open', 'cool_down_over', { forced: false, $expr: { $lte: ['$openUntil', '$$NOW'] } });
      d = moved ?? (await this.refresh());
      if (d.state === 'closed') return { allowed: true, generation: d.generation };
      if (d.state === 'open') return this.deny(d, d.openUntil?.getTime() ?? Date.now() + this.opts.coolDownMs);
    }
    return this.tryProbe(d);
  }

  /**
   * Records a call's outcome. A probe's outcome closes or reopens the breaker at once; other
   * outcomes are batched. Never throws: the vendor's answer must not be lost to a failed breaker
   * write (it goes to onError; an undecided probe's lease runs out and another process probes).
   */
  async record(outcome: Outcome, permit?: AllowedPermit): Promise<void> {
    try {
      await this.recordOrThrow(outcome, permit);
    } catch (e) {
      this.opts.onError?.(e);
    }
  }

  private async recordOrThrow(outcome: Outcome, permit?: AllowedPermit): Promise<void> {
    const probe = permit?.probe;
    if (probe) {
      this.probing = false;
      const to = outcome === 'success' ? 'closed' : 'open';
      const d = await transition(this.db, this.opts.vendor, {
        from: 'half_open',
        generation: probe.generation,
        to,
        reason: outcome === 'success' ? 'probe_succeeded' : 'probe_failed',
        by: this.opts.owner,
        coolDownMs: this.opts.coolDownMs,
        // Fenced: only the lease registered for this generation may decide it.
        where: { probeFence: probe.lease.fence },
      });
      await release(this.db, probe.lease).catch(() => false);
      if (d) this.adopt(d, true);
      else this.readAt = 0;
      return;
    }
    const generation = permit?.generation ?? this.doc?.generation;
    if (generation === undefined) return;
    const p = this.pending.get(generation) ?? { ok: 0, fail: 0 };
    if (outcome === 'success') p.ok++;
    else p.fail++;
    this.pending.set(generation, p);
    if (this.opts.flushMs === 0) return this.flush();
    this.timer ??= setTimeout(() => {
      this.flush().catch((e) => this.opts.onError?.(e));
    }, this.opts.flushMs).unref();
  }

  /**
   * A probe permit that will not be used (the call was not made: the rate limiter refused it, the
   * caller is stopping): gives the lease back at once so another process can probe, no transition.
   */
  async abandon(permit: AllowedPermit): Promise<void> {
    if (!permit.probe) return;
    this.probing = false;
    this.nextProbeTryAt = 0;
    await release(this.db, permit.probe.lease).catch(() => false);
  }

  /** Writes the outcomes summed so far (one update per generation) and trips the breaker if the window says so. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    const run = this.flushing.then(async () => {
      for (const [generation, { ok, fail }] of batch) {
        this.stats.outcomeWrites++;
        const d = await addOutcomes(this.db, this.opts.vendor, generation, ok, fail, this.opts.bucketMs, this.opts.windowBuckets);
        if (!d) continue; // the generation moved on: these outcomes belong to a state that is gone
        this.adopt(d);
        const w = this.window(d);
        if (w.calls >= this.opts.minCalls && w.failures / w.calls >= this.opts.failureRatio) await this.move(d, 'open', 'failure_ratio');
      }
    });
    this.flushing = run.catch(() => {});
    return run;
  }

  /** The state now (a fresh read, for admins and tests). */
  async state(): Promise<BreakerView> {
    return this.view(await this.refresh());
  }

  /** The last state this process read, without a round trip (metrics); null before the first read. */
  cached(): BreakerView | null {
    return this.doc ? this.view(this.doc) : null;
  }

  /** Operators: open it until forced closed (no automatic half-open). The caller audits. */
  forceOpen(by: string): Promise<BreakerView> {
    return this.force('open', by);
  }

  /** Operators: close it now (a fresh window). The caller audits. */
  forceClose(by: string): Promise<BreakerView> {
    return this.force('closed', by);
  }

  /** Writes pending outcomes and stops the flush timer. */
  async close(): Promise<void> {
    await this.flush().catch((e) => this.opts.onError?.(e));
  }

  private async force(to: 'open' | 'closed', by: string): Promise<BreakerView> {
    // Bounded CAS loop: each round reads the generation and names it in the transition.
    for (let i = 0; i < 20; i++) {
      const d = await this.refresh();
      if (to === 'open' ? d.state === 'open' && d.forced : d.state === 'closed') return this.view(d);
      const moved = await transition(this.db, this.opts.vendor, {
        from: d.state,
        generation: d.generation,
        to,
        reason: to === 'open' ? 'forced_open' : 'forced_close',
        by,
        coolDownMs: to === 'open' ? null : this.opts.coolDownMs,
      });
      if (moved) {
        this.stats.transitions++;
        this.adopt(moved, true);
        return this.view(moved);
      }
    }
    throw new Error(`circuit breaker ${this.opts.vendor}: could not force ${to} (the state kept changing)`);
  }

  private async tryProbe(d: CircuitBreakerDoc): Promise<Permit> {
    const retry = Date.now() + this.skewMs + this.opts.cacheMs;
    // One lease attempt per process per cacheMs; never a second probe from this process.
    if (this.probing || Date.now() < this.nextProbeTryAt) return this.deny(d, retry);
    this.nextProbeTryAt = Date.now() + this.opts.cacheMs;
    this.probing = true;
    try {
      const lease = await acquire(this.db, this.probeKey, this.opts.probeLeaseMs, { owner: this.opts.owner });
      if (!lease) {
        this.probing = false;
        return this.deny(d, retry);
      }
      const registered = await registerProbe(this.db, this.opts.vendor, d.generation, lease.fence, this.opts.owner);
      if (!registered) {
        // The state moved on, or a newer lease is registered: give the lease back, no probe.
        await release(this.db, lease).catch(() => false);
        this.probing = false;
        this.readAt = 0;
        return this.deny(d, retry);
      }
      this.adopt(registered, true);
      this.stats.probesGranted++;
      return { allowed: true, generation: d.generation, probe: { lease, generation: d.generation } };
    } catch (e) {
      this.probing = false;
      throw e;
    }
  }

  private deny(d: CircuitBreakerDoc, retryAtServerMs: number): Permit {
    return { allowed: false, retryAt: new Date(retryAtServerMs - this.skewMs), state: d.state };
  }

  private async move(
    d: CircuitBreakerDoc,
    to: BreakerState,
    reason: string,
    where?: Record<string, unknown>,
  ): Promise<CircuitBreakerDoc | null> {
    const moved = await transition(this.db, this.opts.vendor, {
      from: d.state,
      generation: d.generation,
      to,
      reason,
      by: this.opts.owner,
      coolDownMs: this.opts.coolDownMs,
      ...(where ? { where } : {}),
    });
    if (moved) {
      this.stats.transitions++;
      this.adopt(moved, true);
    } else this.readAt = 0; // another process moved first: read its state on the next permit
    return moved;
  }

  private current(): Promise<CircuitBreakerDoc> | CircuitBreakerDoc {
    if (this.doc && Date.now() - this.readAt < this.opts.cacheMs) return this.doc;
    return this.refresh();
  }

  private refresh(): Promise<CircuitBreakerDoc> {
    this.refreshing ??= (async () => {
      try {
        this.stats.stateReads++;
        let d = await readBreaker(this.db, this.opts.vendor);
        if (!d) {
          await ensureBreakerDoc(this.db, this.opts.vendor);
          d = await readBreaker(this.db, this.opts.vendor);
        }
        if (!d) throw new Error(`circuit breaker ${this.opts.vendor}: no document after creating it`);
        this.adopt(d, true);
        return d;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Takes a document as the cached state unless it is older than the one held; `fresh` restarts the cache period. */
  private adopt(d: CircuitBreakerDoc, fresh = false): void {
    if (this.doc && d.generation < this.doc.generation) return;
    this.doc = d;
    this.skewMs = d.now.getTime() - Date.now();
    if (fresh) this.readAt = Date.now();
  }

  private window(d: CircuitBreakerDoc): { calls: number; failures: number } {
    const current = Math.floor(d.now.getTime() / this.opts.bucketMs);
    let calls = 0;
    let failures = 0;
    for (const b of d.buckets)
      if (b.t > current - this.opts.windowBuckets) {
        calls += b.ok + b.fail;
        failures += b.fail;
      }
    return { calls, failures };
  }

  private view(d: CircuitBreakerDoc): BreakerView {
    const w = this.window(d);
    return {
      vendor: d._id,
      state: d.state,
      generation: d.generation,
      calls: w.calls,
      failures: w.failures,
      failureRatio: w.calls ? w.failures / w.calls : 0,
      openUntil: d.openUntil,
      forced: d.forced,
      probeOwner: d.probeOwner ?? null,
      changedAt: d.changedAt,
      counts: d.counts,
      transitions: d.transitions,
    };
  }
}
