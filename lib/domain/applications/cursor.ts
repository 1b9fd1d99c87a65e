// Keyset pagination of the applications list: `?after=<cursor>` continues after the last item of
// the previous page. The cursor is opaque to clients: base64url of {s: sort, v: the sort field's
// value, id: _id}. Decoding is strict (a cursor of another sort, a wrong value type, extra keys:
// 400), so nothing but a date or a number and a tracking id ever reaches the query.
import { z } from 'zod';
import { badRequest } from '../../errors.js';
import { type SortKey, SORTS, applicationId } from './schemas.js';
import type { ApplicationDoc } from './types.js';

export interface Cursor {
  sort: SortKey;
  value: Date | number;
  id: string;
}

const FIELD = {
  createdAt: 'createdAt',
  '-createdAt': 'createdAt',
  updatedAt: 'updatedAt',
  '-updatedAt': 'updatedAt',
  amount: 'amount',
  '-amount': 'amount',
} as const satisfies Record<SortKey, keyof ApplicationDoc>;
const field = (sort: SortKey) => FIELD[sort];

const encoded = z.strictObject({
  s: z.enum(SORTS),
  v: z.union([z.number().finite(), z.iso.datetime()]),
  id: applicationId,
});

/** The cursor that continues after `doc` in `sort` order. */
export function cursorAfter(sort: SortKey, doc: ApplicationDoc): string {
  const f = field(sort);
  const v = f === 'amount' ? doc.amount : doc[f].toISOString();
  return Buffer.from(JSON.stringify({ s: sort, v, id: doc._id })).toString('base64url');
}

/** Parses `raw` for a list in `sort` order; 400 when it is not a cursor of that order. */
export function decodeCursor(raw: string, sort: SortKey): Cursor {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('invalid request query', { errors: [{ in: 'query', path: 'after', message: 'is not a cursor' }] });
  }
  const r = encoded.safeParse(json);
  const bad = (message: string) => badRequest('invalid request query', { errors: [{ in: 'query', path: 'after', message }] });
  if (!r.success) throw bad('is not a cursor');
  if (r.data.s !== sort) throw bad(`is a cursor of sort ${r.data.s}, not ${sort}`);
  const isAmount = field(sort) === 'amount';
  if (isAmount !== (typeof r.data.v === 'number')) throw bad('is not a cursor');
  return { sort, value: typeof r.data.v === 'number' ? r.data.v : new Date(r.data.v), id: r.data.id };
}
