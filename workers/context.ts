import type { WorkerConfig } from '../lib/config.js';
import type { Context } from '../lib/context.js';
import type { BureauRequester } from '../lib/domain/pipeline/bureau-client.js';
import type { PaymentGateway } from '../lib/domain/pipeline/payment-gateway.js';
import type { VendorClient } from '../lib/vendors/call-vendor.js';

/** A worker process's context: the process context plus its outside services. */
export interface WorkerContext extends Context<WorkerConfig> {
  /** The payment gateway (PAYMENT_GATEWAY_URL); without one, disbursement writes the ledger only. */
  gateway?: PaymentGateway | undefined;
  /** The credit bureau (BUREAU_URL, approval role); without one, approval decides on the declared figures only. */
  bureau?: { requester: BureauRequester; client: VendorClient } | undefined;
}
