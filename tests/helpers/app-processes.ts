// The app's real processes, started through a file's Processes: API instances (server/main.ts),
// workers (workers/main.ts) and the payment-gateway simulator the disbursement worker pays through.
import type { TestDb } from './db.js';
import { apiEnv, workerEnv } from './env.js';
import type { Proc, Processes } from './processes.js';

export type ServerProc = Proc & { url: string };

/** server/main.ts on 127.0.0.1:port against the test's database; ready once /ready answers. */
export async function serverProcess(procs: Processes, t: TestDb, port: number, env: Record<string, string> = {}): Promise<ServerProc> {
  const url = `http://127.0.0.1:${port}`;
  const p = await procs.node(
    `api-${port}`,
    'server/main.ts',
    apiEnv(t, { PORT: String(port), INSTANCE_ID: `api-${port}`, LOG_LEVEL: 'info', ...env }),
    { readyUrl: `${url}/ready` },
  );
  return Object.assign(p, { url });
}

/** workers/main.ts for `roles` (e.g. 'ocr' or 'ocr,approval'); ready once it logged that it started. */
export function workerProcess(procs: Processes, t: TestDb, roles: string, env: Record<string, string> = {}): Promise<Proc> {
  return procs.node(
    `worker-${roles.replaceAll(',', '+')}`,
    'workers/main.ts',
    workerEnv(t, { INSTANCE_ID: `w-${roles}-${Math.random().toString(36).slice(2, 7)}`, ...env }),
    { args: [roles], readyLine: 'worker started' },
  );
}

export interface Payment {
  key: string;
  paymentId: string;
  requests: number;
  amount: number;
  reference: string;
}
export type Gateway = Proc & {
  url: string;
  /** Payments it made (one per idempotency key). */
  payments(): Promise<Payment[]>;
  /** Requests it holds unanswered (hold mode). */
  held(): Promise<number>;
  /** Hold mode: record each payment, then hold the answer until released. */
  setHold(hold: boolean): Promise<void>;
  /** Outage: every /payments request answers 503 until switched off. */
  setOutage(outage: boolean): Promise<void>;
  /** Requests it received: payment requests, lookups by key, and the 503s it answered. */
  stats(): Promise<{ payRequests: number; lookups: number; unavailable: number; payments: number }>;
  /** Pays as a client would (planting "the gateway paid, the ledger never heard of it"). */
  pay(key: string, reference: string, amount: number, currency: string): Promise<Payment>;
};

/** scripts/simulators/payment-gateway.ts on a free port. */
export async function gatewayProcess(procs: Processes): Promise<Gateway> {
  const listening = /listening on (http:\/\/\S+)/;
  const p = await procs.node('payment-gateway', 'scripts/simulators/payment-gateway.ts', {}, { args: ['0'], readyLine: listening });
  const url = listening.exec(p.output())![1]!;
  const get = async <T>(path: string): Promise<T> => (await (await fetch(url + path)).json()) as T;
  return Object.assign(p, {
    url,
    payments: async () => (await get<{ items: Payment[] }>('/payments')).items,
    held: async () => (await get<{ held: number }>('/control/held')).held,
    setHold: async (hold: boolean) => {
      await fetch(`${url}/control/hold`, { method: 'POST', body: JSON.stringify({ hold }) });
    },
    setOutage: async (outage: boolean) => {
      await fetch(`${url}/control/outage`, { method: 'POST', body: JSON.stringify({ outage }) });
    },
    stats: () => get<{ payRequests: number; lookups: number; unavailable: number; payments: number }>('/control/stats'),
    pay: async (key: string, reference: string, amount: number, currency: string) => {
      const r = await fetch(`${url}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ reference, amount, currency }),
      });
      if (r.status !== 201) throw new Error(`gateway pay: ${r.status} ${await r.text()}`);
      return (await r.json()) as Payment;
    },
  });
}
