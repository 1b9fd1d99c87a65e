// Partner intake: a loan request becomes an application in `scoring` (the approval worker decides
// it, rejecting with LOW_CREDIT_SCORE / LOAN_TOO_LARGE like any other), idempotently per partner.
// The idempotency key and the body's fingerprint are stored on the application itself and made
// unique by the index {intake.partnerId, intake.idempotencyKey}; they commit in the same
// transaction as the application and its outbox event, so there is no "in progress" marker a
// crash could orphan. A duplicate that arrives while the first transaction is still open hits a
// write conflict, which the transaction retries until the first one commits (a brief wait), then
// sees the duplicate key and answers as a replay.
import { createHash } from 'node:crypto';
import { MongoServerError } from 'mongodb';
import { AppError } from '../../errors.js';
import { createApplication } from '../applications/commands.js';
import { findByIntakeKey, findPartnersApplication } from '../applications/repository.js';
import type { DomainContext } from '../context.js';
import { type PartnerPrincipal, partnerActor } from '../partners/types.js';
import type { LoanRequestInput } from './schemas.js';

/** JSON with object keys sorted at every level: the same body always gives the same text. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export const fingerprintOf = (input: LoanRequestInput) => createHash('sha256').update(canonicalJson(input)).digest('hex');

/** The answer to an accepted request: the same for the first request and every replay. */
export const acceptedBody = (id: string) => ({ id, status: 'processing' as const, statusUrl: `/api/loan/request/${id}` });

export interface Submitted {
  id: string;
  replayed: boolean;
}

const isDuplicateKey = (e: unknown) => e instanceof MongoServerError && e.code === 11000;

export async function submitLoanRequest(
  ctx: DomainContext,
  partner: PartnerPrincipal,
  input: LoanRequestInput,
  key: string | undefined,
  requestId: string | undefined,
): Promise<Submitted> {
  const idempotencyKey = key ?? input.loanId;
  const fingerprint = fingerprintOf(input);
  const { loanId, application, ...terms } = input;
  try {
    const doc = await createApplication(
      ctx,
      { applicant: application, ...terms },
      { actor: partnerActor(partner), requestId },
      { status: 'scoring', intake: { partnerId: partner.partnerId, loanId, idempotencyKey, fingerprint } },
    );
    return { id: doc._id, replayed: false };
  } catch (e) {
    if (!isDuplicateKey(e)) throw e;
  }
  const first = await findByIntakeKey(ctx.c, partner.partnerId, idempotencyKey);
  // Only the idempotency index can collide (tracking ids are unique by construction); a first
  // request gone meanwhile would mean the application was deleted: let the client try again.
  if (!first) throw new AppError(409, 'idempotency_conflict', 'a request with this idempotency key is being processed; retry');
  if (first.intake?.fingerprint !== fingerprint) {
    throw new AppError(422, 'idempotency_key_reused', 'this idempotency key was already used with a different request body', {
      idempotencyKey,
    });
  }
  return { id: first._id, replayed: true };
}

/** Whether `id` is an application `partnerId` submitted. */
export async function isPartnersApplication(ctx: DomainContext, partnerId: string, id: string): Promise<boolean> {
  return (await findPartnersApplication(ctx.c, partnerId, id)) !== null;
}

/** The partner's view of its application; null when it does not exist or is another partner's. */
export async function loanRequestStatus(ctx: DomainContext, partnerId: string, id: string) {
  const doc = await findPartnersApplication(ctx.c, partnerId, id);
  if (!doc) return null;
  return {
    id: doc._id,
    loanId: doc.intake?.loanId ?? null,
    status: doc.status,
    reasons: (doc.risk?.reasons ?? []).map((r) => ({ code: r.code, category: r.category, message: r.message })),
    updatedAt: doc.updatedAt,
    version: doc.version,
  };
}
