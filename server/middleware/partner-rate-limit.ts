// The partner's rate limit (its `rateLimitPerSecond`), shared by every instance through the leased
// GCRA limiter (lib/limits/leased-limiter.ts). Over the limit: 429 problem with `Retry-After` and
// the IETF draft's `RateLimit` / `RateLimit-Policy` headers, answered without a database read
// while the instance knows the partner is over its limit.
import type { RequestHandler } from 'express';
import type { LeasedLimiter } from '../../lib/limits/leased-limiter.js';
import { AppError } from '../../lib/errors.js';
import { partnerOf } from './partner-auth.js';

export function partnerRateLimit(limiter: LeasedLimiter): RequestHandler {
  return async (_req, res, next) => {
    const p = partnerOf(res);
    const rate = p.rateLimitPerSecond;
    const verdict = await limiter.take(`partner:${p.partnerId}`, rate);
    res.setHeader('RateLimit-Policy', `"partner";q=${rate};w=1`);
    if (verdict.allowed) return next();
    const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
    res.setHeader('RateLimit', `"partner";r=0;t=${seconds}`);
    throw new AppError(429, 'rate_limited', `partner rate limit of ${rate} requests per second exceeded`, {
      retryAfterSeconds: seconds,
    });
  };
}
