// Per-scenario data (seeded before the stack starts) and the correctness checks run afterwards
// against MongoDB and the artillery counters.
import { randomBytes } from 'node:crypto';
import type { Collections } from '../../lib/domain/collections.js';
import { createUser } from '../../lib/domain/users/users.js';
import { fakeApplication } from '../seed.js';

export const SCENARIOS = ['admins', 'conflict-storm', 'ingestion'] as const;
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
}
export type Counters = Record<string, number>;
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const password = `Lt-${randomBytes(9).toString('base64url')}`;

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
  };
  if (name === 'admins') {
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
  } else {
    d.ingest.clerks = await accounts(c, 8, 'reviewer', 'clerk');
  }
  return d;
}

/** Scenario-specific correctness, from the counters and from MongoDB. */
export async function verify(name: ScenarioName, d: ScenarioData, counters: Counters, c: Collections): Promise<Check[]> {
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
  if (name === 'admins') {
    checks.push({
      name: 'every admin logged in and worked',
      ok: n('vusers.completed') === n('vusers.created'),
      detail: `${n('vusers.completed')}/${n('vusers.created')} sessions completed`,
    });
  }
  return checks;
}
