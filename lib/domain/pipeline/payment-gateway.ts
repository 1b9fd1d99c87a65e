// Client for the payment gateway (scripts/simulators/payment-gateway.ts locally). Every request
// carries an idempotency key: asking twice for the same key never pays twice.
import { z } from 'zod';

const paid = z.object({ paymentId: z.string().min(1) });
export interface PaymentRequest {
  idempotencyKey: string;
  applicationId: string;
  amount: number;
  currency: string;
}
export interface PaymentGateway {
  pay(req: PaymentRequest, signal: AbortSignal): Promise<{ paymentId: string }>;
}

export class PaymentGatewayError extends Error {
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
      const ok = paid.safeParse(body);
      if (!r.ok || !ok.success) {
        throw new PaymentGatewayError(`payment gateway answered ${r.status}: ${JSON.stringify(body).slice(0, 300)}`);
      }
      return { paymentId: ok.data.paymentId };
    },
  };
}
