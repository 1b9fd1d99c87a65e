// Source 1: a partner's loan request refused as invalid (400/422). The entry keeps the problem's
// code, the field paths that failed, the partner, the body's loanId when it is a string, and the
// request id — never the body itself.
import { INTAKE_CODES } from './codes.js';
import type { Occurrence } from './types.js';

const LOAN_ID_MAX = 128;

export interface IntakeRefusal {
  /** The problem code the client was answered with (bad_request, malformed_json, …). */
  problem: string;
  detail: string;
  /** The problem's errors[] (validation failures): their paths are recorded. */
  errors: unknown;
  partnerId: string;
  /** The parsed request body, or undefined when there was none: only a string `loanId` is read from it. */
  body: unknown;
  requestId: string;
}

/** The distinct `in.path` of each problem error (a field failing two checks is listed once). */
const pathsOf = (errors: unknown): string[] | undefined =>
  Array.isArray(errors)
    ? [
        ...new Set(
          errors.map((e: unknown) => {
            const where = e && typeof e === 'object' && 'in' in e && typeof e.in === 'string' ? e.in : 'body';
            const path = e && typeof e === 'object' && 'path' in e && typeof e.path === 'string' ? e.path : '';
            return path ? `${where}.${path}` : where;
          }),
        ),
      ]
    : undefined;

function loanIdOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || !Object.hasOwn(body, 'loanId')) return undefined;
  const v: unknown = Reflect.get(body, 'loanId');
  return typeof v === 'string' && v.length > 0 ? v.slice(0, LOAN_ID_MAX) : undefined;
}

export function intakeOccurrence(r: IntakeRefusal): Occurrence {
  const code = Object.hasOwn(INTAKE_CODES, r.problem) ? INTAKE_CODES[r.problem]! : r.problem.toUpperCase().slice(0, 64);
  const fields = pathsOf(r.errors);
  return {
    code,
    category: 'validation',
    message: fields?.length ? `${r.detail}: ${fields.join(', ')}` : r.detail,
    partnerId: r.partnerId,
    loanId: loanIdOf(r.body),
    fields,
    requestId: r.requestId,
  };
}
