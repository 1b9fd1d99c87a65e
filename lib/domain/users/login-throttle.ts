// Failed-login counters in MongoDB (collection login_attempts), so every instance enforces the
// same limits. One fixed window per key; the window's end is the TTL expiry of the counter.
import type { Collections } from '../collections.js';
import { tooManyRequests } from '../../errors.js';

export interface ThrottleLimits {
  windowMs: number;
  perAccount: number;
  perIp: number;
}

const keys = (email: string, ip: string) => ({ acct: `acct:${email.toLowerCase()}`, ip: `ip:${ip}` });

export async function assertLoginAllowed(c: Collections, email: string, ip: string, l: ThrottleLimits): Promise<void> {
  const k = keys(email, ip);
  const now = Date.now();
  for (const d of await c.loginAttempts.find({ _id: { $in: [k.acct, k.ip] } }).toArray()) {
    const limit = d._id === k.acct ? l.perAccount : l.perIp;
    if (d.failures >= limit && d.expiresAt.getTime() > now) {
      throw tooManyRequests('too many failed logins; try again later', Math.ceil((d.expiresAt.getTime() - now) / 1000));
    }
  }
}

export async function recordLoginFailure(c: Collections, email: string, ip: string, l: ThrottleLimits): Promise<void> {
  const k = keys(email, ip);
  const expired = { $or: [{ $eq: [{ $type: '$expiresAt' }, 'missing'] }, { $lte: ['$expiresAt', '$$NOW'] }] };
  const update = [
    {
      $set: {
        failures: { $cond: [expired, 1, { $add: ['$failures', 1] }] },
        windowStart: { $cond: [expired, '$$NOW', '$windowStart'] },
        expiresAt: { $cond: [expired, { $add: ['$$NOW', l.windowMs] }, '$expiresAt'] },
      },
    },
  ];
  await c.loginAttempts.bulkWrite(
    [k.acct, k.ip].map((_id) => ({ updateOne: { filter: { _id }, update, upsert: true } })),
    { ordered: false },
  );
}

export async function clearAccountFailures(c: Collections, email: string): Promise<void> {
  await c.loginAttempts.deleteOne({ _id: keys(email, '').acct });
}
