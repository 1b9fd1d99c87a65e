// Which of the MongoDB driver's errors mean "the replica set is failing over or unreachable; the
// same request may succeed shortly": the API answers them 503 + Retry-After instead of 500
// (server/middleware/error-handler.ts; the cases are in tests/integration/mongo-errors.test.ts and
// tests/unit/broken-connection.test.ts).
import { MongoBulkWriteError, MongoError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';
import { driverErrorOf } from './transaction.js';

/**
 * Server codes a client may retry: the driver's retryable-read/write list (HostUnreachable,
 * HostNotFound, NetworkTimeout, ShutdownInProgress, ReadConcernMajorityNotAvailableYet,
 * PrimarySteppedDown, ExceededTimeLimit, SocketException, LegacyNotPrimary, NotWritablePrimary,
 * InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk,
 * NotPrimaryOrSecondary): what a replica set answers while it elects a primary, a member shuts down
 * or a new primary has no majority snapshot yet.
 */
const RETRYABLE_CODES = new Set([6, 7, 89, 91, 134, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436]);
/**
 * NoSuchTransaction. Unlabelled only on a commit whose write concern failed: the member does not
 * have the transaction (it was not committed there), but could not confirm that durably either.
 */
const NO_SUCH_TRANSACTION = 251;
/** Write-concern errors that mean a misconfigured write concern (UnknownReplWriteConcern, UnsatisfiableWriteConcern): a bug, not an unknown outcome. */
const WRITE_CONCERN_MISCONFIGURED = new Set([79, 100]);

/** The write-concern error a write came back with (its data was written, majority durability unconfirmed), if any. */
function writeConcernErrorOf(e: MongoError): { code?: number } | undefined {
  if (e instanceof MongoBulkWriteError) return e.result.getWriteConcernError() ?? undefined;
  const wce: unknown = (e as { writeConcernError?: unknown }).writeConcernError;
  return wce !== null && typeof wce === 'object' ? (wce as { code?: number }) : undefined;
}

/**
 * Socket errors of a connection to MongoDB that broke: the driver (mongodb 7.8) rethrows a failed
 * socket write as it is (`EPIPE` "This socket has been ended by the other party", when a killed
 * primary's connection is written to) instead of as a MongoNetworkError. A client's own abort
 * (ECONNABORTED, with an HTTP status from body-parser) is not one of these.
 */
const BROKEN_CONNECTION_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH']);

function isBrokenConnection(e: Error): boolean {
  const { code, status, statusCode } = e as { code?: unknown; status?: unknown; statusCode?: unknown };
  return typeof code === 'string' && BROKEN_CONNECTION_CODES.has(code) && status === undefined && statusCode === undefined;
}

/**
 * The driver's errors a client can retry: no primary reachable, the connection dropped (also as a
 * bare socket error), a labelled retryable failure, a retryable server code, or a write or commit
 * whose outcome the replica set could not confirm (a write-concern error, a commit the new primary
 * does not know).
 */
export function isRetryableMongoError(err: unknown): boolean {
  for (let e = driverErrorOf(err), depth = 0; e instanceof Error && depth < 5; e = driverErrorOf(e.cause), depth++) {
    if (e instanceof MongoServerSelectionError || e instanceof MongoNetworkError || isBrokenConnection(e)) return true;
    if (e instanceof MongoError) {
      if (e.hasErrorLabel('RetryableWriteError') || e.hasErrorLabel('TransientTransactionError')) return true;
      if (e.hasErrorLabel('UnknownTransactionCommitResult')) return true;
      if (typeof e.code === 'number' && (RETRYABLE_CODES.has(e.code) || e.code === NO_SUCH_TRANSACTION)) return true;
      const wce = writeConcernErrorOf(e);
      if (wce && !WRITE_CONCERN_MISCONFIGURED.has(Number(wce.code))) return true;
    }
  }
  return false;
}
