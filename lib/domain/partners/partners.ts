// Admin use cases for partners and their keys; every change is audited (entity 'partner').
import { type Collection, ObjectId } from 'mongodb';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import { type AuditDoc, recordAction } from '../audit.js';
import type { Meta } from '../context.js';
import { hashKey, keyHint, newPartnerKey } from './keys.js';
import type { PartnerDoc, PartnerKeyDoc } from './types.js';

/** What the partner use cases need (the domain's collections satisfy it). */
export interface PartnerStore {
  partners: Collection<PartnerDoc>;
  partnerKeys: Collection<PartnerKeyDoc>;
  audit: Collection<AuditDoc>;
}

export const newPartnerInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  rateLimitPerSecond: z.number().int().min(1).max(100_000),
});
export type NewPartnerInput = z.output<typeof newPartnerInput>;

export const partnerView = (p: PartnerDoc) => ({
  id: p._id.toHexString(),
  name: p.name,
  rateLimitPerSecond: p.rateLimitPerSecond,
  createdAt: p.createdAt,
});

export const keyView = (k: PartnerKeyDoc) => ({
  id: k._id.toHexString(),
  hint: k.hint,
  createdAt: k.createdAt,
  revokedAt: k.revokedAt ?? null,
});

export async function createPartner(s: PartnerStore, input: NewPartnerInput, meta: Meta) {
  const doc: PartnerDoc = { _id: new ObjectId(), ...input, createdAt: new Date(), createdBy: meta.actor };
  await s.partners.insertOne(doc);
  await recordAction(s, {
    entity: 'partner',
    entityId: doc._id.toHexString(),
    action: 'create',
    actor: meta.actor,
    requestId: meta.requestId,
    details: input,
  });
  return partnerView(doc);
}

/** Every partner with its keys (no hashes). */
export async function listPartners(s: PartnerStore) {
  const [partners, keys] = await Promise.all([
    s.partners.find().sort({ _id: 1 }).limit(1000).toArray(),
    s.partnerKeys.find().sort({ _id: 1 }).toArray(),
  ]);
  return partners.map((p) => ({ ...partnerView(p), keys: keys.filter((k) => k.partnerId.equals(p._id)).map(keyView) }));
}

/** Issues a key (the only time it is returned); the partner's other keys stay valid (rotation). */
export async function issueKey(s: PartnerStore, partnerId: string, secret: string, meta: Meta) {
  const pid = new ObjectId(partnerId);
  if (!(await s.partners.findOne({ _id: pid }, { projection: { _id: 1 } }))) throw notFound(`partner ${partnerId} does not exist`);
  const key = newPartnerKey();
  const doc: PartnerKeyDoc = {
    _id: new ObjectId(),
    partnerId: pid,
    hash: hashKey(key, secret),
    hint: keyHint(key),
    createdAt: new Date(),
    createdBy: meta.actor,
  };
  await s.partnerKeys.insertOne(doc);
  await recordAction(s, {
    entity: 'partner',
    entityId: partnerId,
    action: 'key.issue',
    actor: meta.actor,
    requestId: meta.requestId,
    details: { keyId: doc._id.toHexString() },
  });
  return { ...keyView(doc), key };
}

/** Revokes a key: every instance refuses it within PARTNER_KEY_CACHE_MS. Revoking twice keeps the first time. */
export async function revokeKey(s: PartnerStore, partnerId: string, keyId: string, meta: Meta) {
  const filter = { _id: new ObjectId(keyId), partnerId: new ObjectId(partnerId) };
  const now = new Date();
  const after = await s.partnerKeys.findOneAndUpdate(
    { ...filter, revokedAt: { $exists: false } },
    { $set: { revokedAt: now, revokedBy: meta.actor } },
    { returnDocument: 'after' },
  );
  const doc = after ?? (await s.partnerKeys.findOne(filter));
  if (!doc) throw notFound(`key ${keyId} of partner ${partnerId} does not exist`);
  if (after) {
    await recordAction(s, {
      entity: 'partner',
      entityId: partnerId,
      action: 'key.revoke',
      actor: meta.actor,
      requestId: meta.requestId,
      details: { keyId },
    });
  }
  return keyView(doc);
}
