// Replay protection for incoming webhooks: each (source, webhook-id) is accepted once. A receipt
// is one `webhook_receipts` document whose _id is "<source>:<webhook-id>" (unique by _id), kept
// until `expiresAt` (TTL index; the TTL monitor only cleans up, the check is the _id). Recording
// is an upsert with $setOnInsert, so a duplicate is an answer (false), not a duplicate-key error:
// inside a transaction that keeps the transaction usable (a write error would abort it), and the
// receipt commits or rolls back with the work it guards.
import type { ClientSession, Collection, Db } from 'mongodb';

export interface WebhookReceiptDoc {
  _id: string;
  source: string;
  webhookId: string;
  receivedAt: Date;
  expiresAt: Date;
}

export const WEBHOOK_RECEIPTS = 'webhook_receipts';

/** How long a receipt is kept by default: far beyond the ±5 min timestamp tolerance, which refuses older replays anyway. */
export const DEFAULT_RECEIPT_TTL_MS = 24 * 60 * 60_000;

export function webhookReceiptsCollection(db: Db): Collection<WebhookReceiptDoc> {
  return db.collection<WebhookReceiptDoc>(WEBHOOK_RECEIPTS);
}

/** TTL on expiresAt (uniqueness is the _id). */
export async function ensureWebhookReceiptIndexes(db: Db): Promise<void> {
  await webhookReceiptsCollection(db).createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0, name: 'ttl' });
}

/**
 * Records the receipt of `webhookId` from `source`; true the first time, false for a replay.
 * Pass the transaction's session to make the receipt part of it. Concurrent first receipts: the
 * server retries the losing _id upsert (outside a transaction) or the transaction gets a write
 * conflict and is retried by withTransaction; either way exactly one caller sees true.
 */
export async function acceptOnce(
  db: Db,
  source: string,
  webhookId: string,
  opts: { session?: ClientSession; ttlMs?: number } = {},
): Promise<boolean> {
  const now = new Date();
  const r = await webhookReceiptsCollection(db).updateOne(
    { _id: `${source}:${webhookId}` },
    { $setOnInsert: { source, webhookId, receivedAt: now, expiresAt: new Date(now.getTime() + (opts.ttlMs ?? DEFAULT_RECEIPT_TTL_MS)) } },
    { upsert: true, ...(opts.session ? { session: opts.session } : {}) },
  );
  return r.upsertedCount === 1;
}
