// Mount on the /api routers right after express.json (server/app.ts): `api.use(requireParsedBodyType)`.
import type { Request, RequestHandler } from 'express';
import { AppError } from '../../lib/errors.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** The routes that take something other than JSON: the document uploads (an admin's and a partner's). */
const UPLOAD = /^\/api\/(applications|loan\/request)\/[^/]+\/documents\/?$/;

/** True when the request carries a body (chunked, or a Content-Length above 0). */
function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = Number(req.headers['content-length'] ?? '0');
  return !Number.isFinite(len) || len > 0;
}

/** The media type a route parses: multipart/form-data for the upload, application/json elsewhere. */
export const expectedBodyType = (req: Request): string =>
  req.method === 'POST' && UPLOAD.test(req.baseUrl + req.path) ? 'multipart/form-data' : 'application/json';

/**
 * A body the route would not parse is refused with 415 before any handler runs: a JSON filter sent
 * as text/plain, a form, or application/vnd.api+json never reaches a handler as "no body".
 */
export const requireParsedBodyType: RequestHandler = (req, _res, next) => {
  if (!WRITES.has(req.method) || !hasBody(req)) return next();
  const expected = expectedBodyType(req);
  if (req.is(expected) === false || !req.headers['content-type']) {
    throw new AppError(415, 'unsupported_media_type', `send the request body as ${expected}`, { expected });
  }
  next();
};
