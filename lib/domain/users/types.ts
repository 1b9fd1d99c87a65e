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
  /**
   * Bumped by every role change, disable and password change, and by "log out everywhere": a
   * session remembers the epoch it was made in and is refused once the user's epoch moved on.
   */
  sessionEpoch?: number;
}

/**
 * A login-throttle counter (`pair:<email> <address>`, `ip:<address>` or `inflight:<email>`):
 * failures and verifications in flight in the current window; expires with its window.
 */
export interface LoginAttemptDoc {
  _id: string;
  failures: number;
  inflight: number;
  /** Whether the last reservation on this counter took a slot. */
  granted: boolean;
  /** The pair's progressive delay: no attempt before this. */
  notBefore: Date | null;
  windowStart: Date;
  expiresAt: Date;
}
