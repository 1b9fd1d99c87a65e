// Verifies a partner's bearer key: the checksum first (no database read for a malformed key), then
// the stored HMAC (any of the configured secrets, compared in constant time). Each instance keeps
// a key's verdict (its partner, or "refused") for at most `cacheMs` (≤ 1 s), so a revocation takes
// effect on every instance within that time and a busy key costs one read per second.
import { hashKey, sameHash, wellFormedKey } from './keys.js';
import type { PartnerStore } from './partners.js';
import type { PartnerPrincipal } from './types.js';

/** Verdicts kept per instance at most; beyond that the cache starts over (bounded memory). */
const MAX_CACHED = 10_000;

export type Authenticate = (key: string) => Promise<PartnerPrincipal | null>;

export function partnerAuthenticator(
  s: Pick<PartnerStore, 'partners' | 'partnerKeys'>,
  secrets: readonly string[],
  cacheMs: number,
): Authenticate {
  const cache = new Map<string, { principal: PartnerPrincipal | null; until: number }>();
  return async (key) => {
    if (!wellFormedKey(key)) return null;
    const hashes = secrets.map((secret) => hashKey(key, secret));
    const id = hashes[0]!;
    const hit = cache.get(id);
    if (hit && hit.until > Date.now()) return hit.principal;
    const doc = await s.partnerKeys.findOne({ hash: { $in: hashes } });
    const valid = doc !== null && !doc.revokedAt && hashes.some((h) => sameHash(h, doc.hash));
    const partner = valid ? await s.partners.findOne({ _id: doc.partnerId }) : null;
    const principal: PartnerPrincipal | null =
      doc && partner
        ? {
            partnerId: partner._id.toHexString(),
            keyId: doc._id.toHexString(),
            name: partner.name,
            rateLimitPerSecond: partner.rateLimitPerSecond,
          }
        : null;
    if (cacheMs > 0) {
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(id, { principal, until: Date.now() + cacheMs });
    }
    return principal;
  };
}
