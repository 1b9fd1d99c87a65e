// Partner intake: a loan request becomes an application in `scoring` (the approval worker decides
// it, rejecting with LOW_CREDIT_SCORE / LOAN_TOO_LARGE like any other), idempotently per partner.
// The idempotency key and the body's fingerprint are stored on the application itself and made
// unique by the index {intake.partnerId, intake.idempotencyKey}; they commit in the same
// transaction as the application and its outbox event, so there is no "in progress" marker a
// crash could orphan. A duplicate that arrives while the first transaction is still open hits a
// write conflict, which the transaction retries until the first one commits (a brief wait), then
// sees the duplicate key and answers as a replay. Requests arriving together share one
// transaction (group commit); a duplicate in a batch fails only its own request.
import { createHash } from 'node:crypto';
import { MongoBulkWriteError } from 'mongodb';
import { AppError } from '../../errors.js';
import { GroupCommit, type GroupCommitOptions, type Outcome } from '../../db/group-commit.js';
import { createApplications, type NewApplication } from '../applications/commands.js';
import { findByIntakeKey, findPartnersApplication, IDEMPOTENCY_INDEX } from '../applications/repository.js';
import type { DomainContext } from '../context.js';
import { type PartnerPrincipal, partnerActor } from '../partners/types.js';
import type { LoanRequestInput } from './schemas.js';
import { type StatusView, statusView } from './status-view.js';

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

/** A partner's loan request, ready to commit. */
interface LoanRequest {
  partnerId: string;
  idempotencyKey: string;
  fingerprint: string;
  application: NewApplication;
}

/** Where the first duplicate idempotency key of a batch sits; undefined for any other error. */
function duplicatePosition(e: unknown): number | undefined {
  if (!(e instanceof MongoBulkWriteError) || e.code !== 11000) return undefined;
  const first = [e.writeErrors].flat()[0];
  return first?.errmsg?.includes(IDEMPOTENCY_INDEX) ? first.index : undefined;
}

const settle = async <T>(fn: () => Promise<T>): Promise<Outcome<T>> => {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
};

/**
 * Commits a batch of requests in one transaction. A request whose key is already taken (by an
 * earlier request, or by another in this batch) aborts the transaction; it is set aside and the
 * rest commit again, then it is answered as a replay (or 422). Any other failure of a batch of
 * several is retried request by request, so a fault is only its own request's.
 */
async function commitLoanRequests(ctx: DomainContext, requests: LoanRequest[]): Promise<Outcome<Submitted>[]> {
  const outcomes: Outcome<Submitted>[] = [];
  const duplicates: number[] = [];
  let pending = requests.map((_, i) => i);
  while (pending.length > 0) {
    try {
      const docs = await createApplications(
        ctx,
        pending.map((i) => requests[i]!.application),
      );
      pending.forEach((i, k) => {
        outcomes[i] = { ok: true, value: { id: docs[k]!._id, replayed: false } };
      });
      break;
    } catch (error) {
      const at = duplicatePosition(error);
      if (at !== undefined) {
        duplicates.push(pending[at]!);
        pending = pending.filter((_, k) => k !== at);
      } else if (pending.length === 1) {
        outcomes[pending[0]!] = { ok: false, error };
        break;
      } else {
        for (const i of pending) [outcomes[i]] = (await commitLoanRequests(ctx, [requests[i]!])) as [Outcome<Submitted>];
        break;
      }
    }
  }
  for (const i of duplicates) outcomes[i] = await settle(() => replayOf(ctx, requests[i]!));
  return outcomes;
}

/** The answer to a request whose idempotency key is taken: the first request's, or 422. */
async function replayOf(ctx: DomainContext, r: LoanRequest): Promise<Submitted> {
  const first = await findByIntakeKey(ctx.c, r.partnerId, r.idempotencyKey);
  // Only the idempotency index collides (tracking ids are unique by construction); a first
  // request gone meanwhile would mean the application was deleted: let the client try again.
  if (!first) throw new AppError(409, 'idempotency_conflict', 'a request with this idempotency key is being processed; retry');
  if (first.intake?.fingerprint !== r.fingerprint) {
    throw new AppError(422, 'idempotency_key_reused', 'this idempotency key was already used with a different request body', {
      idempotencyKey: r.idempotencyKey,
    });
  }
  return { id: first._id, replayed: true };
}

export type SubmitLoanRequest = (
  partner: PartnerPrincipal,
  input: LoanRequestInput,
  key: string | undefined,
  requestId: string | undefined,
) => Promise<Submitted>;

/**
 * The instance's intake: each request becomes an application in `scoring`, committed with
 * majority write concern together with the other requests that arrived at the same moment
 * (group commit, lib/db/group-commit.ts) before the promise resolves.
 */
export function loanRequestIntake(
  ctx: DomainContext,
  opts: GroupCommitOptions,
): { submit: SubmitLoanRequest; batches: GroupCommit<LoanRequest, Submitted>['batches'] } {
  const group = new GroupCommit<LoanRequest, Submitted>((requests) => commitLoanRequests(ctx, requests), opts);
  const submit: SubmitLoanRequest = (partner, input, key, requestId) => {
    const idempotencyKey = key ?? input.loanId;
    const fingerprint = fingerprintOf(input);
    const { loanId, application, ...terms } = input;
    return group.submit({
      partnerId: partner.partnerId,
      idempotencyKey,
      fingerprint,
      application: {
        input: { applicant: application, ...terms },
        meta: { actor: partnerActor(partner), requestId },
        entry: { status: 'scoring', intake: { partnerId: partner.partnerId, loanId, idempotencyKey, fingerprint } },
      },
    });
  };
  return { submit, batches: group.batches };
}

/** Whether `id` is an application `partnerId` submitted. */
export async function isPartnersApplication(ctx: DomainContext, partnerId: string, id: string): Promise<boolean> {
  return (await findPartnersApplication(ctx.c, partnerId, id)) !== null;
}

/** The partner's view of its application; null when it does not exist or is another partner's. */
export async function loanRequestStatus(ctx: DomainContext, partnerId: string, id: string): Promise<StatusView | null> {
  const doc = await findPartnersApplication(ctx.c, partnerId, id);
  return doc ? statusView(doc) : null;
}
