// `npm run seed -- --count 10000`: realistic applications for development and load tests.
import { parseArgs } from 'node:util';
import type { ApplicationDoc } from '../lib/domain/applications/types.js';
import { newTrackingId } from '../lib/domain/applications/tracking-id.js';
import type { Status } from '../lib/domain/applications/status.js';
import { cliContext } from './lib/cli.js';

const FIRST = [
  'Ana',
  'Ben',
  'Chloe',
  'Dmitri',
  'Esther',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kemi',
  'Luis',
  'Mei',
  'Nora',
  'Omar',
  'Priya',
];
const LAST = ['Okafor', 'Smith', 'Novak', 'Garcia', 'Tanaka', 'Haddad', 'Murphy', 'Kowalski', 'Silva', 'Nguyen', 'Fischer', 'Rossi'];
const PURPOSES = ['home renovation', 'car purchase', 'debt consolidation', 'small business', 'education', 'medical bills', 'wedding'];
const SEED_STATUSES: Status[] = ['submitted', 'submitted', 'submitted', 'under_review', 'approved', 'rejected'];
const pick = <T>(a: readonly T[]) => a[Math.floor(Math.random() * a.length)]!;
const between = (lo: number, hi: number) => Math.round(lo + Math.random() * (hi - lo));

/** Who seeded documents name as their creator and last editor (as the API records a real one). */
const SEEDER = { id: 'seed', email: 'seed@creditdesk.local' };

export function fakeApplication(now = Date.now()): ApplicationDoc {
  const first = pick(FIRST);
  const last = pick(LAST);
  const created = new Date(now - between(0, 90 * 86_400_000));
  const income = between(18, 250) * 1000;
  return {
    _id: newTrackingId(created.getTime()),
    applicant: {
      name: `${first} ${last}`,
      email: `${first}.${last}.${between(1, 1e6)}@example.com`.toLowerCase(),
      phone: `+1 555 ${between(1000000, 9999999)}`,
      age: between(18, 80),
    },
    amount: between(1, 100) * 1000,
    income,
    creditScore: between(300, 850),
    purpose: pick(PURPOSES),
    status: pick(SEED_STATUSES),
    version: 1,
    createdAt: created,
    updatedAt: created,
    createdBy: SEEDER,
    updatedBy: SEEDER,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' } } });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 5_000_000) {
    console.error('--count must be 1..5000000');
    process.exit(2);
  }
  const { ctx, log } = await cliContext('seed');
  for (let done = 0; done < count; done += 5000) {
    const n = Math.min(5000, count - done);
    await ctx.c.applications.insertMany(
      Array.from({ length: n }, () => fakeApplication()),
      { ordered: false },
    );
  }
  log.info({ count }, `seeded ${count} applications`);
  await ctx.close();
}
