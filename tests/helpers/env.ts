// The environment the app's processes get in tests: the test's own database, a fixed session
// secret, quiet logs. The same for the in-process API (startApi) and for real processes.
import type { TestDb } from './db.js';

export const TEST_SECRET = 'test-session-secret-0123456789abcdef0123456789';
/** PARTNER_KEY_SECRET in tests (partner API keys are HMACs under it). */
export const TEST_PARTNER_SECRET = 'test-partner-key-secret-0123456789abcdef012345';

/** server/main.ts or startApi on the test's database. */
export function apiEnv(t: TestDb, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MONGO_URI: t.uri,
    MONGO_DB: t.dbName,
    SESSION_SECRETS: TEST_SECRET,
    PARTNER_KEY_SECRET: TEST_PARTNER_SECRET,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    ...extra,
  };
}

/** workers/main.ts or startWorkers on the test's database: short polls and retry backoff. */
export function workerEnv(t: TestDb, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MONGO_URI: t.uri,
    MONGO_DB: t.dbName,
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    WORKER_POLL_MS: '200',
    WORKER_BACKOFF_BASE_MS: '100',
    WORKER_BACKOFF_CAP_MS: '1000',
    ...extra,
  };
}
