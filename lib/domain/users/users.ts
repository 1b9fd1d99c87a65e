import { MongoServerError, ObjectId } from 'mongodb';
import { z } from 'zod';
import type { Collections } from '../collections.js';
import type { Role, UserDoc } from './types.js';
import { conflict } from '../../errors.js';
import { dummyHash, hashPassword, verifyPassword } from './password.js';

export const ROLES = ['admin', 'reviewer', 'viewer'] as const satisfies readonly Role[];
export const newUserInput = z.strictObject({
  email: z
    .email()
    .max(254)
    .transform((e) => e.toLowerCase()),
  password: z.string().min(12, 'passwords need at least 12 characters').max(256),
  role: z.enum(ROLES),
});
export type NewUser = z.output<typeof newUserInput>;
export type UserView = { id: string; email: string; role: Role; createdAt: Date };

export const toUserView = (u: UserDoc): UserView => ({ id: u._id.toHexString(), email: u.email, role: u.role, createdAt: u.createdAt });

export async function createUser(c: Collections, input: NewUser): Promise<UserView> {
  const doc: UserDoc = {
    _id: new ObjectId(),
    email: input.email,
    passwordHash: await hashPassword(input.password),
    role: input.role,
    createdAt: new Date(),
  };
  try {
    await c.users.insertOne(doc);
    return toUserView(doc);
  } catch (e) {
    if (e instanceof MongoServerError && e.code === 11000) throw conflict(`a user with email ${input.email} already exists`);
    throw e;
  }
}

/** A user who proved their password, with the session epoch a new session is made in. */
export interface VerifiedUser {
  user: UserView;
  epoch: number;
}

/** Returns the user when the credentials are right, else null; same work either way. */
export async function verifyCredentials(c: Collections, email: string, password: string): Promise<VerifiedUser | null> {
  const user = await c.users.findOne({ email: email.toLowerCase(), disabled: { $ne: true } });
  const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash()), password);
  return user && ok ? { user: toUserView(user), epoch: user.sessionEpoch ?? 0 } : null;
}

export async function listUsers(c: Collections): Promise<UserView[]> {
  return (await c.users.find().sort({ email: 1 }).limit(1000).toArray()).map(toUserView);
}
