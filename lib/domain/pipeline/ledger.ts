// The ledger: one money movement per application. The unique index on applicationId
// (migration 004) is the idempotency key that makes a second disbursement impossible.
import type { ClientSession, Collection, ObjectId } from 'mongodb';

export interface LedgerDoc {
  _id?: ObjectId;
  applicationId: string;
  kind: 'disbursement';
  amount: number;
  currency: string;
  /** The lock grant's fencing number under which the entry was written. */
  fence: number;
  paymentRef: string | null;
  eventId: string;
  createdAt: Date;
}

export async function insertLedgerEntry(
  c: { ledger: Collection<LedgerDoc> },
  entry: Omit<LedgerDoc, '_id'>,
  session: ClientSession,
): Promise<void> {
  await c.ledger.insertOne(entry, { session });
}
