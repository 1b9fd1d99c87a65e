import type { Collection, Db, ObjectId } from 'mongodb';
import type { Status } from '../domain/applications/status.js';

export type Role = 'admin' | 'reviewer' | 'viewer';
export interface Actor { id: string; email: string }

export interface UserDoc {
  _id: ObjectId; email: string; passwordHash: string; role: Role; createdAt: Date; disabled?: boolean;
}

export interface ApplicationDoc {
  _id: string; // tracking id, LOAN-…
  applicant: { name: string; email: string; phone: string; age: number };
  amount: number; income: number; creditScore: number; purpose: string;
  status: Status; version: number;
  createdAt: Date; updatedAt: Date; updatedBy: Actor;
  // Written by the processing pipeline (workers).
  documents?: Array<Record<string, unknown>>; ocr?: Record<string, unknown>; risk?: Record<string, unknown>;
  disbursement?: Record<string, unknown>;
}

export interface AuditDoc {
  _id?: ObjectId; entity: 'application' | 'user'; entityId: string; action: string;
  actor: Actor; at: Date; fromVersion: number | null; toVersion: number;
  changes: Record<string, { from: unknown; to: unknown }>; requestId?: string;
}

export interface LoginAttemptDoc { _id: string; failures: number; windowStart: Date; expiresAt: Date }
export interface MigrationDoc {
  _id: string; state: 'running' | 'done'; startedAt: Date; appliedAt?: Date; checkpoint?: unknown;
}

/** One money movement per application: the unique index on applicationId is the idempotency key. */
export interface LedgerDoc {
  _id?: ObjectId; applicationId: string; kind: 'disbursement'; amount: number; currency: string;
  /** The lock grant's fencing number under which the entry was written. */
  fence: number; paymentRef: string | null; eventId: string; createdAt: Date;
}

/** GridFS `documents.files` metadata of an uploaded applicant document. */
export interface DocumentFileMeta {
  applicationId: string; contentType: 'image/png' | 'image/jpeg' | 'image/tiff'; originalName: string;
  sha256: string; uploadedBy: Actor;
}

export function collections(db: Db) {
  return {
    users: db.collection<UserDoc>('users'),
    applications: db.collection<ApplicationDoc>('applications'),
    audit: db.collection<AuditDoc>('audit'),
    loginAttempts: db.collection<LoginAttemptDoc>('login_attempts'),
    migrations: db.collection<MigrationDoc>('migrations'),
    ledger: db.collection<LedgerDoc>('ledger'),
  };
}
export type Collections = ReturnType<typeof collections>;
export type { Collection };
