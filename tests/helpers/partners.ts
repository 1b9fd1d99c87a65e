// Partner intake in tests: a partner with a key (made by an admin through the API), a valid loan
// request body, and requests with the partner's bearer key.
import { randomUUID } from 'node:crypto';
import { Client, type Res } from './http.js';

export interface TestPartner {
  id: string;
  key: string;
  keyId: string;
}

/** POST /api/partners then POST /api/partners/:id/keys as `admin`; throws unless both succeed. */
export async function testPartner(
  admin: Client,
  name = `partner-${randomUUID().slice(0, 8)}`,
  rateLimitPerSecond = 1000,
): Promise<TestPartner> {
  const p = await admin.post('/api/partners', { name, rateLimitPerSecond });
  if (p.status !== 201) throw new Error(`creating a partner: ${p.status} ${JSON.stringify(p.body)}`);
  const k = await admin.post(`/api/partners/${p.body.id}/keys`);
  if (k.status !== 201) throw new Error(`issuing a key: ${k.status} ${JSON.stringify(k.body)}`);
  return { id: p.body.id, key: k.body.key, keyId: k.body.id };
}

/** A valid POST /api/loan/request body with a fresh loanId. */
export function loanRequest(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    loanId: `L-${randomUUID()}`,
    application: { name: 'Ada Lovelace', age: 36, email: 'ada@example.com', phone: '+44 20 7946 0000' },
    amount: 20_000,
    income: 60_000,
    creditScore: 720,
    purpose: 'home improvement',
    ...over,
  };
}

/** One request to `url` with `Authorization: Bearer <key>` (no cookie, no CSRF token). */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely in tests, as Res does
export function asPartner<T = any>(
  url: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Res<T>> {
  return new Client(url).req<T>(method, path, body, { authorization: `Bearer ${key}`, ...headers });
}
