// Per-scenario data (seeded before the stack starts) and the correctness checks run afterwards
// against MongoDB and the artillery counters.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Collections } from '../../lib/domain/collections.js';
import { createPartner, issueKey } from '../../lib/domain/partners/partners.js';
import { createUser } from '../../lib/domain/users/users.js';
import { fakeApplication } from '../seed.js';

export const SCENARIOS = ['admins', 'admins-overload', 'conflict-storm', 'ingestion', 'intake'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Account {
  email: string;
  password: string;
}
export interface ScenarioData {
  target: string;
  thinkMs: number;
  iterations: number;
  admins: Account[];
  sampleIds: string[];
  storm: { appIds: string[]; startAt: number; roundMs: number };
  ingest: { clerks: Account[]; purpose: string };
  /** The intake scenario's partner, its key, where the processor records "<key> <id>" of every first 202, how long a subscriber reads. */
  intake: { partnerId: string; key: string; idsFile: string; sseMs: number };
}
export type Counters = Record<string, number>;
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const password = `Lt-${randomBytes(9).toString('base64url')}`;
/** PARTNER_KEY_SECRET of this run's API instances (the intake scenario's key is an HMAC under it). */
const partnerKeySecret = randomBytes(32).toString('hex');

/** Settings the scenario's API instances need beyond the defaults (partner keys for intake). */
export function stackEnv(name: ScenarioName): Record<string, string> {
  // Every virtual user comes from one loopback address: the per-address login limit (failures +
  // verifications in flight, 50 by default) would refuse the 100 simultaneous logins of the
  // storm, which 100 real admins at 100 addresses never meet. Per-account limits stay as shipped.
  const oneAddress = { LOGIN_MAX_FAILURES_PER_IP: '1000' };
  if (name === 'intake') return { ...oneAddress, PARTNER_KEY_SECRET: partnerKeySecret };
  // The storm's 100 logins arrive at the same instant (~33 per instance, 4 verified at a time): on a
  // busy machine the last ones may wait longer than the default 3 s for a verification slot (ADR 0028).
  if (name === 'conflict-storm') return { ...oneAddress, LOGIN_VERIFY_WAIT_MS: '10000' };
  return oneAddress;
}

async function accounts(c: Collections, n: number, role: 'admin' | 'reviewer', label: string): Promise<Account[]> {
  const out: Account[] = Array.from({ length: n }, (_, i) => ({ email: `${label}${i}@loadtest.local`, password }));
  for (let i = 0; i < out.length; i += 8) {
    // argon2id: a few hashes at a time
    await Promise.all(out.slice(i, i + 8).map((a) => createUser(c, { ...a, role })));
  }
  return out;
}

/** Seeds what the scenario needs; `target` and storm.startAt are filled in once the stack is up. */
export async function prepare(name: ScenarioName, smoke: boolean, c: Collections): Promise<ScenarioData> {
  const d: ScenarioData = {
    target: '',
    thinkMs: 0,
    iterations: 0,
    admins: [],
    sampleIds: [],
    storm: { appIds: [], startAt: 0, roundMs: 1000 },
    ingest: { clerks: [], purpose: `loadtest-ingest-${randomBytes(4).toString('hex')}` },
    intake: { partnerId: '', key: '', idsFile: '', sseMs: smoke ? 1500 : 5000 },
  };
  if (name === 'admins' || name === 'admins-overload') {
    const apps = smoke ? 500 : 10_000;
    for (let i = 0; i < apps; i += 5000) {
      await c.applications.insertMany(
        Array.from({ length: Math.min(5000, apps - i) }, () => fakeApplication()),
        { ordered: false },
      );
    }
    d.sampleIds = (
      await c.applications
        .find({}, { projection: { _id: 1 } })
        .limit(200)
        .toArray()
    ).map((x) => x._id);
    d.admins = await accounts(c, smoke ? 10 : 100, 'admin', 'admin');
    d.thinkMs = smoke ? 50 : 1600;
    d.iterations = smoke ? 3 : 25;
  } else if (name === 'conflict-storm') {
    const rounds = smoke ? 3 : 20;
    const docs = Array.from({ length: rounds }, () => ({ ...fakeApplication(), status: 'submitted' as const, version: 1 }));
    await c.applications.insertMany(docs);
    d.storm.appIds = docs.map((x) => x._id);
    d.admins = await accounts(c, 100, 'admin', 'storm');
  } else if (name === 'ingestion') {
    d.ingest.clerks = await accounts(c, 8, 'reviewer', 'clerk');
  } else {
    // A partner (rate far above the scenario's) and its key, as an admin would make them.
    const meta = { actor: { id: 'loadtest', email: 'loadtest@loadtest.local' } };
    const partner = await createPartner(c, { name: `loadtest-${randomBytes(3).toString('hex')}`, rateLimitPerSecond: 100_000 }, meta);
    d.intake.partnerId = partner.id;
    d.intake.key = (await issueKey(c, partner.id, partnerKeySecret, meta)).key;
    d.intake.idsFile = join(tmpdir(), `creditdesk-loadtest-intake-${randomBytes(6).toString('hex')}.ids`);
    writeFileSync(d.intake.idsFile, '');
  }
  return d;
}

/** Scenario-specific correctness, from the counters and from MongoDB. */
export async function verify(name: ScenarioName, d: ScenarioData, counters: Counters, c: Collections, smoke = false): Promise<Check[]> {
  const n = (k: string) => counters[k] ?? 0;
  const checks: Check[] = [];
  if (name === 'conflict-storm') {
    const admins = n('vusers.created');
    d.storm.appIds.forEach((_id, r) => {
      const ok = n(`storm.round_${r}.ok`),
        conflict = n(`storm.round_${r}.conflict`);
      checks.push({
        name: `round ${r + 1}: exactly 1 success and ${admins - 1} conflicts`,
        ok: ok === 1 && conflict === admins - 1,
        detail: `${ok} ok, ${conflict} conflicts`,
      });
    });
    const docs = await c.applications.find({ _id: { $in: d.storm.appIds } }, { projection: { version: 1 } }).toArray();
    const audits = await c.audit.countDocuments({ entityId: { $in: d.storm.appIds }, action: { $ne: 'create' } });
    checks.push({
      name: 'every storm application is at version 2',
      ok: docs.length === d.storm.appIds.length && docs.every((x) => x.version === 2),
      detail: docs.map((x) => x.version).join(','),
    });
    checks.push({
      name: 'one audit entry per round',
      ok: audits === d.storm.appIds.length,
      detail: `${audits} audit entries for ${d.storm.appIds.length} rounds`,
    });
  }
  if (name === 'ingestion') {
    const stored = await c.applications.countDocuments({ purpose: d.ingest.purpose });
    checks.push({
      name: 'every acknowledged creation is stored (and nothing else)',
      ok: stored === n('creditdesk.ok'),
      detail: `${n('creditdesk.ok')} acknowledged, ${stored} stored`,
    });
  }
  if (name === 'intake') checks.push(...(await verifyIntake(d, counters, c)));
  if (name === 'admins') {
    checks.push({
      name: 'every admin logged in and worked',
      ok: n('vusers.completed') === n('vusers.created'),
      detail: `${n('vusers.completed')}/${n('vusers.created')} sessions completed`,
    });
    checks.push({
      name: 'load shedding did not fire (1,000 admins on a quiet machine)',
      ok: n('creditdesk.shed') + n('creditdesk.edge_refused') === 0,
      detail: `${n('creditdesk.shed')} shed by the API, ${n('creditdesk.edge_refused')} refused by nginx`,
    });
  }
  if (name === 'admins-overload') checks.push(...verifyOverload(counters, smoke));
  return checks;
}

/** Timeouts and resets: what shedding exists to prevent (artillery's errors.<code> counters). */
export const TIMEOUT_CODES = ['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED'] as const;

/**
 * admins-overload (ADR 0028): the API shed load with 503 + Retry-After instead of timing out;
 * every virtual user's session ran to its end (signed in and worked, or gave up signing in after
 * its refused attempts, counted); the login outcomes are reported.
 */
function verifyOverload(counters: Counters, smoke: boolean): Check[] {
  const n = (k: string) => counters[k] ?? 0;
  const timeouts = TIMEOUT_CODES.map((c) => [c, n(`errors.${c}`)] as const);
  return [
    {
      name: 'no request timed out or was reset',
      ok: timeouts.every(([, v]) => v === 0),
      detail: timeouts.map(([c, v]) => `${c} ${v}`).join(', '),
    },
    {
      name: smoke ? 'shed requests (smoke: none expected, reported)' : 'the API shed load (503 + Retry-After)',
      ok: smoke || n('creditdesk.shed') > 0,
      detail: `${n('creditdesk.shed')} shed by the API, ${n('creditdesk.edge_refused')} refused by nginx (no instance took them)`,
    },
    {
      name: 'every session ran to its end',
      ok: n('vusers.completed') === n('vusers.created'),
      detail: `${n('vusers.completed')}/${n('vusers.created')} sessions completed`,
    },
    {
      name: 'logins (reported)',
      ok: true,
      detail: `${n('creditdesk.login.ok')} signed in, ${n('creditdesk.login.refused')} attempts refused with Retry-After, ${n('creditdesk.login.gave_up')} admins gave up`,
    },
  ];
}

/**
 * Intake: every first 202 (the processor's "<key> <id>" lines) is stored with its approval.requested
 * event, each key made exactly one application (the answered one), every replay was identical,
 * every status poll answered with its application; the SSE subscribers' outcome is reported.
 */
async function verifyIntake(d: ScenarioData, counters: Counters, c: Collections): Promise<Check[]> {
  const n = (k: string) => counters[k] ?? 0;
  const lines = readFileSync(d.intake.idsFile, 'utf8').split('\n').filter(Boolean);
  rmSync(d.intake.idsFile, { force: true });
  const answered = new Map(lines.map((l) => l.split(' ') as [string, string]));
  const ids = [...answered.values()];
  const stored = await c.applications
    .aggregate<{ _id: string; key: string; events: number }>([
      { $match: { _id: { $in: ids } } },
      {
        $lookup: {
          from: 'events',
          localField: '_id',
          foreignField: 'payload.applicationId',
          pipeline: [{ $match: { type: 'approval.requested' } }, { $project: { _id: 1 } }],
          as: 'events',
        },
      },
      { $project: { key: '$intake.idempotencyKey', events: { $size: '$events' } } },
    ])
    .toArray();
  const complete = stored.filter((a) => a.events === 1 && answered.get(a.key) === a._id).length;
  const perKey = await c.applications
    .aggregate<{ _id: string; n: number }>([
      { $match: { 'intake.partnerId': d.intake.partnerId } },
      { $group: { _id: '$intake.idempotencyKey', n: { $sum: 1 } } },
      { $group: { _id: null, keys: { $sum: 1 }, apps: { $sum: '$n' } } },
    ])
    .toArray();
  const keys = (perKey[0] as { keys?: number } | undefined)?.keys ?? 0;
  const apps = (perKey[0] as { apps?: number } | undefined)?.apps ?? 0;
  const sse = ['opened', 'read_full_time', 'events', 'unavailable', 'capped', 'closed_early', 'timeout', 'error'].map(
    (k) => [k, n(`intake.sse.${k}`)] as const,
  );
  // Any other answer than 200 text/event-stream, 404 (not deployed) or 429 (the per-key stream cap).
  const unexpected = Object.entries(counters).filter(([k]) => k.startsWith('intake.sse.unexpected_'));
  const sseFailed = n('intake.sse.error') + n('intake.sse.timeout') + n('intake.sse.closed_early') + unexpected.length;
  return [
    {
      name: 'no lost 202: every acknowledged id is stored with its approval.requested event',
      ok: ids.length === n('intake.accepted') && complete === ids.length,
      detail: `${n('intake.accepted')} acknowledged, ${ids.length} recorded, ${complete} stored with one event under the answered key`,
    },
    {
      name: 'exactly one application per key',
      ok: keys === apps && apps === ids.length,
      detail: `${apps} applications for ${keys} keys (${ids.length} keys answered)`,
    },
    {
      name: 'replays identical (202, Idempotent-Replayed: true, same body and Location)',
      ok: n('intake.replay_different') === 0 && n('intake.replay_identical') === n('intake.accepted'),
      detail: `${n('intake.replay_identical')} identical, ${n('intake.replay_different')} different`,
    },
    {
      name: 'status polls answer with the submitted application',
      ok: n('intake.status_wrong') === 0 && n('intake.status_ok') === 2 * n('intake.accepted'),
      detail: `${n('intake.status_ok')} ok, ${n('intake.status_wrong')} wrong`,
    },
    {
      name: 'SSE subscribers (a 404 means the route is not deployed: reported, not failed)',
      ok: sseFailed === 0,
      detail: [...sse, ...unexpected].map(([k, v]) => `${k.replace('intake.sse.', '')} ${v}`).join(', '),
    },
  ];
}
