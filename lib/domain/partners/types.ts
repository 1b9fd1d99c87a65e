// Partners (lenders' systems that submit loan requests) and their API keys.
import type { ObjectId } from 'mongodb';
import type { Actor } from '../users/types.js';

export interface PartnerDoc {
  _id: ObjectId;
  name: string;
  /** The partner's request rate (per second), enforced by the shared rate limiter. */
  rateLimitPerSecond: number;
  createdAt: Date;
  createdBy: Actor;
}

/** One key of a partner: only its HMAC is stored. Rotation = a second key, then revoking the first. */
export interface PartnerKeyDoc {
  _id: ObjectId;
  partnerId: ObjectId;
  /** HMAC-SHA-256(key, the first PARTNER_KEY_SECRET at issue time), hex; unique. */
  hash: string;
  /** The key's first characters, to tell keys apart in lists. */
  hint: string;
  createdAt: Date;
  createdBy: Actor;
  revokedAt?: Date;
  revokedBy?: Actor;
}

/** Who a valid key belongs to, as the partner routes see it. */
export interface PartnerPrincipal {
  partnerId: string;
  keyId: string;
  name: string;
  rateLimitPerSecond: number;
}

/** The actor recorded on what a partner changes (never equal to a user's id: four-eyes holds). */
export const partnerActor = (p: PartnerPrincipal): Actor => ({ id: `partner:${p.partnerId}`, email: `partner:${p.name}` });
