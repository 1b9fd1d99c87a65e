// Client for the payment gateway (scripts/simulators/payment-gateway.ts locally). Every request
// carries an idempotency key: asking twice for the same key never pays twice.
export interface PaymentRequest { idempotencyKey: string; applicationId: string; amount: number; currency: string }
export interface PaymentGateway { pay(req: PaymentRequest, signal: AbortSignal): Promise<{ paymentId: string }> }

export class PaymentGatewayError extends Error { override name = 'PaymentGatewayError'; }

export function httpPaymentGateway(baseUrl: string, timeoutMs: number): PaymentGateway {
  return {
    async pay(req, signal) {
      const r = await fetch(new URL('/payments', baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': req.idempotencyKey },
        body: JSON.stringify({ reference: req.applicationId, amount: req.amount, currency: req.currency }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      const body = (await r.json().catch(() => ({}))) as { paymentId?: unknown; error?: unknown };
      if (!r.ok || typeof body.paymentId !== 'string') {
        throw new PaymentGatewayError(`payment gateway answered ${r.status}: ${JSON.stringify(body).slice(0, 300)}`);
      }
      return { paymentId: body.paymentId };
    },
  };
}
