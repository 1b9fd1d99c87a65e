// The people who use the admin API and what the stores keep about them.
import type { ObjectId } from 'mongodb';

export type Role = 'admin' | 'reviewer' | 'viewer';
/** Who did something, as recorded in the audit trail and on changed documents. */
export interface Actor {
  id: string;
  email: string;
}

export interface UserDoc {
  _id: ObjectId;
  email: string;
  passwordHash: string;
  role: Role;
  createdAt: Date;
  disabled?: boolean;
}

/** Failed-login counter of one key (`acct:<email>` or `ip:<address>`); expires with its window. */
export interface LoginAttemptDoc {
  _id: string;
  failures: number;
  windowStart: Date;
  expiresAt: Date;
}
