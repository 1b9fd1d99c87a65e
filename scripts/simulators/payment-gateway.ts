// A payment-gateway simulator: a real HTTP server process standing in for the bank's API.
//   tsx scripts/simulators/payment-gateway.ts [port]      (PORT env or 4100; 0 = any free port)
// POST /payments {reference, amount, currency} with an `Idempotency-Key` header pays once per key;
// the same key again with the same reference, amount and currency returns the first payment (200,
// replayed: true); with a different one it is refused with 422 (as real gateways do), paying
// nothing. Every answer carries the amount and currency paid. Payments live in memory.
// Test controls: POST /control/hold {hold: true} makes the gateway record each payment and then
// hold the response (a worker can be killed "mid-payment"); GET /control/held counts held
// requests; POST /control/hold {hold: false} releases them. GET /payments lists payments;
// GET /payments/<idempotency key> answers one (404 when the gateway has none: what the reconciler
// asks before finishing an interrupted disbursement). POST /control/outage {outage: true} answers
// 503 to every /payments request (an outage) until {outage: false}; GET /control/stats counts the
// requests it received (payments, lookups, 503s) for tests and benchmarks.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Payment {
  paymentId: string;
  key: string;
  reference: string;
  amount: number;
  currency: string;
  at: string;
  requests: number;
}

const payments = new Map<string, Payment>();
let hold = process.env.GATEWAY_HOLD === '1';
let held: Array<() => void> = [];
let outage = process.env.GATEWAY_OUTAGE === '1';
const stats = { payRequests: 0, lookups: 0, unavailable: 0 };

const send = (res: ServerResponse, status: number, body: unknown) => {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
async function json(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 10_000) return null;
  }
  try {
    const v = JSON.parse(raw || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

const server = createServer(async (req, res) => {
  const body = req.method === 'POST' ? await json(req) : {};
  if (!body) return send(res, 400, { error: 'body must be a JSON object' });
  if (req.url?.startsWith('/payments')) {
    if (req.method === 'POST') stats.payRequests++;
    else stats.lookups++;
    if (outage) {
      stats.unavailable++;
      return send(res, 503, { error: 'payment gateway unavailable (simulated outage)' });
    }
  }
  if (req.method === 'POST' && req.url === '/payments') {
    const key = req.headers['idempotency-key'];
    const { reference, amount, currency } = body;
    if (
      typeof key !== 'string' ||
      !key ||
      typeof reference !== 'string' ||
      typeof amount !== 'number' ||
      !(amount > 0) ||
      typeof currency !== 'string'
    ) {
      return send(res, 400, { error: 'Idempotency-Key header, reference, positive amount and currency are required' });
    }
    const existing = payments.get(key);
    if (existing && (existing.amount !== amount || existing.currency !== currency || existing.reference !== reference)) {
      return send(res, 422, {
        error: 'idempotency key reused with different parameters',
        paid: { amount: existing.amount, currency: existing.currency, reference: existing.reference },
      });
    }
    if (existing) existing.requests++;
    else
      payments.set(key, { paymentId: `pay_${randomUUID()}`, key, reference, amount, currency, at: new Date().toISOString(), requests: 1 });
    const p = payments.get(key)!;
    const answer = () => send(res, existing ? 200 : 201, { ...p, replayed: !!existing });
    if (hold) return void held.push(answer);
    return answer();
  }
  if (req.method === 'GET' && req.url === '/payments') return send(res, 200, { items: [...payments.values()] });
  if (req.method === 'GET' && req.url?.startsWith('/payments/')) {
    let key = '';
    try {
      key = decodeURIComponent(req.url.slice('/payments/'.length));
    } catch {
      return send(res, 400, { error: 'malformed idempotency key' });
    }
    const p = payments.get(key);
    return p ? send(res, 200, p) : send(res, 404, { error: 'no payment with this idempotency key' });
  }
  if (req.method === 'GET' && req.url === '/control/stats') return send(res, 200, { ...stats, payments: payments.size, outage });
  if (req.method === 'POST' && req.url === '/control/outage') {
    outage = body.outage === true;
    return send(res, 200, { outage });
  }
  if (req.method === 'GET' && req.url === '/control/held') return send(res, 200, { held: held.length, hold });
  if (req.method === 'POST' && req.url === '/control/hold') {
    hold = body.hold === true;
    if (!hold) {
      const waiting = held;
      held = [];
      for (const f of waiting) f();
    }
    return send(res, 200, { hold });
  }
  if (req.method === 'GET' && req.url === '/health') return send(res, 200, { status: 'ok' });
  send(res, 404, { error: 'not found' });
});

server.listen(Number(process.argv[2] ?? process.env.PORT ?? 4100), '127.0.0.1', () => {
  console.log(`payment-gateway listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
