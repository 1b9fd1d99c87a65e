import type { WorkerConfig } from '../lib/config.js';
import type { Context } from '../lib/context.js';
import type { PaymentGateway } from '../lib/domain/pipeline/payment-gateway.js';

/** A worker process's context: the process context plus its outside services. */
export interface WorkerContext extends Context<WorkerConfig> {
  /** The payment gateway (PAYMENT_GATEWAY_URL); without one, disbursement writes the ledger only. */
  gateway?: PaymentGateway | undefined;
}
