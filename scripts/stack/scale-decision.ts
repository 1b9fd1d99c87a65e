// How many worker processes a role should run, from its backlog (lib/queue/backlog.ts): a pure
// function of the backlog, the current count, the policy and what the caller remembers (when it
// last scaled, since when the backlog has been low), so every rule is unit-tested without processes.
//
//  - need = ceil(load / jobsPerProcess), load = due + running events, clamped to [min, max].
//  - Up: need > current → straight to need (a burst is met at once, not one process per poll),
//    once `upCooldownMs` has passed since the last change (new processes get time to start and claim).
//    Also one more process when the oldest due event has waited longer than `maxDueAgeMs` (the
//    head of the queue is stuck behind slow handlers even though the count alone looks fine).
//  - Down (hysteresis): only when the load fits in fewer processes with a margin:
//    ceil(load / (jobsPerProcess × (1 − hysteresis))) < current, continuously for `downCooldownMs`
//    (the cool-down: a dip between two bursts retires nothing) — then to that count at once.
//    Retiring drains (the supervisor's SIGTERM), so going down several at a time abandons nothing.
//  - Outside [min, max] (a changed setting, a process that died): back inside at once.
import { type Backlog, backlogLoad } from '../../lib/queue/backlog.js';

export interface ScalePolicy {
  min: number;
  max: number;
  /** Due + running events one process is meant to carry. */
  jobsPerProcess: number;
  /** 0 ≤ h < 1: a process is retired only when the rest would carry the load at (1 − h) of their target. */
  hysteresis: number;
  /** Minimum time between a change and the next scale-up. */
  upCooldownMs: number;
  /** How long the load must stay low before processes are retired. */
  downCooldownMs: number;
  /** The oldest due event waiting longer than this adds a process (0: off). */
  maxDueAgeMs: number;
}

/** What the caller remembers between decisions. */
export interface ScaleMemory {
  /** When the count last changed (-Infinity: never). */
  lastChangeAt: number;
  /** Since when the load has allowed fewer processes, without a break (undefined: it does not now). */
  lowSince: number | undefined;
}

export interface ScaleDecision {
  desired: number;
  /** Why, for the log line (also when nothing changes). */
  reason: string;
  /** The memory to pass to the next decision (lastChangeAt is the caller's to set when it acts). */
  lowSince: number | undefined;
}

const secs = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;

export function decideScale(p: ScalePolicy, b: Backlog, current: number, now: number, m: ScaleMemory): ScaleDecision {
  const load = backlogLoad(b);
  const clamp = (n: number) => Math.min(p.max, Math.max(p.min, n));
  const raw = Math.ceil(load / p.jobsPerProcess);
  const need = clamp(raw);
  const fewer = clamp(Math.ceil(load / (p.jobsPerProcess * (1 - p.hysteresis))));
  const stale = p.maxDueAgeMs > 0 && b.due > 0 && b.oldestDueAgeMs > p.maxDueAgeMs;
  const perProcess = `${p.jobsPerProcess} per process`;

  if (current < p.min) return { desired: p.min, reason: `below the minimum of ${p.min}`, lowSince: undefined };
  if (current > p.max) return { desired: p.max, reason: `above the maximum of ${p.max}`, lowSince: undefined };

  const upWanted = need > current ? need : stale && current < p.max ? current + 1 : current;
  if (upWanted > current) {
    const why =
      need > current
        ? `load ${load} needs ${raw} at ${perProcess}${raw > p.max ? `, capped at the maximum ${p.max}` : ''}`
        : `the oldest due event has waited ${secs(b.oldestDueAgeMs)} (over ${secs(p.maxDueAgeMs)})`;
    if (now - m.lastChangeAt < p.upCooldownMs)
      return { desired: current, reason: `${why}; scale-up cool-down (${secs(p.upCooldownMs)} after a change)`, lowSince: undefined };
    return { desired: upWanted, reason: why, lowSince: undefined };
  }

  if (fewer < current && !stale) {
    const lowSince = m.lowSince ?? now;
    const why = `load ${load} fits in ${fewer} at ${perProcess} with ${Math.round(p.hysteresis * 100)}% headroom`;
    if (now - lowSince < p.downCooldownMs)
      return { desired: current, reason: `${why}; low for ${secs(now - lowSince)} of ${secs(p.downCooldownMs)}`, lowSince };
    return { desired: fewer, reason: `${why} for ${secs(now - lowSince)}`, lowSince: undefined };
  }
  return { desired: current, reason: `load ${load} suits ${current} at ${perProcess}`, lowSince: undefined };
}
