// Client for the payment gateway (scripts/simulators/payment-gateway.ts locally). Every request
// carries an idempotency key and the amount: asking twice for the same key never pays twice, a
// reused key with another amount is refused by the gateway (409/422: a permanent failure), and
// the amount the gateway says it paid must be the amount asked for.
import { z } from 'zod';
import { PermanentError } from '../../queue/index.js';

const paid = z.object({ paymentId: z.string().min(1), amount: z.number(), currency: z.string() });
export interface PaymentRequest {
  idempotencyKey: string;
  applicationId: string;
  amount: number;
  currency: string;
}
export interface PaymentGateway {
  pay(req: PaymentRequest, signal: AbortSignal): Promise<{ paymentId: string; amount: number; currency: string }>;
}

class PaymentGatewayError extends Error {
  override name = 'PaymentGatewayError';
}

export function httpPaymentGateway(baseUrl: string, timeoutMs: number): PaymentGateway {
  return {
    async pay(req, signal) {
      const r = await fetch(new URL('/payments', baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': req.idempotencyKey },
        body: JSON.stringify({ reference: req.applicationId, amount: req.amount, currency: req.currency }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      const body: unknown = await r.json().catch(() => ({}));
      const answer = `payment gateway answered ${r.status}: ${JSON.stringify(body).slice(0, 300)}`;
      // The key was used with other terms: retrying cannot help, an operator must look.
      if (r.status === 409 || r.status === 422) throw new PermanentError(answer);
      const ok = paid.safeParse(body);
      if (!r.ok || !ok.success) throw new PaymentGatewayError(answer);
      if (ok.data.amount !== req.amount || ok.data.currency !== req.currency) {
        throw new PermanentError(`payment gateway paid ${ok.data.amount} ${ok.data.currency} for ${req.amount} ${req.currency}: ${answer}`);
      }
      return ok.data;
    },
  };
}
