// The domain's typed collections, built once per process (by the process context).
import type { Db } from 'mongodb';
import type { ApplicationDoc } from './applications/types.js';
import type { AuditDoc } from './audit.js';
import type { ErrorLogDoc } from './error-log/types.js';
import type { PartnerDoc, PartnerKeyDoc } from './partners/types.js';
import type { LedgerDoc } from './pipeline/ledger.js';
import type { ReconciliationRunDoc } from './pipeline/reconcile-runs.js';
import type { LoginAttemptDoc, UserDoc } from './users/types.js';

export function collections(db: Db) {
  return {
    users: db.collection<UserDoc>('users'),
    applications: db.collection<ApplicationDoc>('applications'),
    audit: db.collection<AuditDoc>('audit'),
    loginAttempts: db.collection<LoginAttemptDoc>('login_attempts'),
    ledger: db.collection<LedgerDoc>('ledger'),
    partners: db.collection<PartnerDoc>('partners'),
    partnerKeys: db.collection<PartnerKeyDoc>('partner_keys'),
    errorLog: db.collection<ErrorLogDoc>('error_log'),
    reconciliationRuns: db.collection<ReconciliationRunDoc>('reconciliation_runs'),
  };
}
export type Collections = ReturnType<typeof collections>;
