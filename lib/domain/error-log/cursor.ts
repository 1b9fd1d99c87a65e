// The list's keyset cursor: opaque to clients (base64url of {t: lastSeen, id: _id} of the last
// item of the previous page) and strictly decoded, so only a date and an ObjectId reach the query.
import { ObjectId } from 'mongodb';
import { z } from 'zod';
import { badRequest } from '../../errors.js';

export interface ErrorCursor {
  lastSeen: Date;
  id: ObjectId;
}

const encoded = z.strictObject({ t: z.iso.datetime(), id: z.string().regex(/^[0-9a-f]{24}$/) });

export const encodeCursor = (doc: { lastSeen: Date; _id: ObjectId }): string =>
  Buffer.from(JSON.stringify({ t: doc.lastSeen.toISOString(), id: doc._id.toHexString() })).toString('base64url');

/** 400 unless `raw` is a cursor this list produced. */
export function decodeCursor(raw: string): ErrorCursor {
  const bad = badRequest('invalid request query', { errors: [{ in: 'query', path: 'cursor', message: 'is not a cursor of this list' }] });
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad;
  }
  const r = encoded.safeParse(json);
  if (!r.success) throw bad;
  return { lastSeen: new Date(r.data.t), id: new ObjectId(r.data.id) };
}
