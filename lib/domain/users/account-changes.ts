// Admin and self-service changes to an account that take effect at once: role, disabled, "log out
// everywhere", password change. Each bumps the user's session epoch and deletes the user's stored
// sessions, and writes an audit entry (entity 'user'; fromVersion/toVersion are the epochs).
import { ObjectId, type ClientSession } from 'mongodb';
import { z } from 'zod';
import { inTransaction } from '../../db/transaction.js';
import { conflict, notFound, unauthorized } from '../../errors.js';
import { diff, recordAudit } from '../audit.js';
import type { DomainContext, Meta } from '../context.js';
import { hashPassword, verifyPassword } from './password.js';
import { deleteSessionsOf } from './sessions.js';
import type { UserDoc } from './types.js';
import { createUser, type NewUser, ROLES, toUserView, type UserView } from './users.js';

export const changeUserInput = z
  .strictObject({ role: z.enum(ROLES).optional(), disabled: z.boolean().optional() })
  .refine((v) => v.role !== undefined || v.disabled !== undefined, 'give role, disabled or both');
export type UserChange = z.output<typeof changeUserInput>;

export const changePasswordInput = z.strictObject({
  currentPassword: z.string().min(1).max(256),
  newPassword: z.string().min(12, 'passwords need at least 12 characters').max(256),
});

const isEnabledAdmin = (u: Pick<UserDoc, 'role' | 'disabled'>) => u.role === 'admin' && u.disabled !== true;
const enabledAdmins = { role: 'admin' as const, disabled: { $ne: true } };

async function userOr404(d: DomainContext, id: string, session?: ClientSession): Promise<UserDoc> {
  const u = await d.c.users.findOne({ _id: new ObjectId(id) }, { session });
  if (!u) throw notFound(`no user ${id}`);
  return u;
}

/** Creates a user (admin action) and audits it. */
export async function createUserAudited(d: DomainContext, input: NewUser, meta: Meta): Promise<UserView> {
  const user = await createUser(d.c, input);
  await recordAudit(d.c, [
    {
      entity: 'user',
      entityId: user.id,
      action: 'user.created',
      actor: meta.actor,
      at: new Date(),
      fromVersion: null,
      toVersion: 0,
      changes: { email: { from: null, to: user.email }, role: { from: null, to: user.role } },
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
    },
  ]);
  return user;
}

/**
 * Changes a user's role and/or disabled flag. Refused with 409 when it would leave no enabled
 * admin: the change and the count run in one transaction that also writes every enabled admin, so
 * two admins demoting each other at once conflict and the second sees the first.
 */
export async function changeUser(d: DomainContext, id: string, change: UserChange, meta: Meta): Promise<UserView> {
  const after = await inTransaction(d.client, async (session) => {
    const before = await userOr404(d, id, session);
    const next = { role: change.role ?? before.role, disabled: change.disabled ?? before.disabled === true };
    const changes = diff({ role: before.role, disabled: before.disabled === true }, next);
    if (Object.keys(changes).length === 0) return before;
    const fromEpoch = before.sessionEpoch ?? 0;
    const toEpoch = fromEpoch + 1;
    if (isEnabledAdmin(before) && !isEnabledAdmin(next)) {
      await d.c.users.updateMany(enabledAdmins, { $inc: { adminGuard: 1 } }, { session });
    }
    await d.c.users.updateOne({ _id: before._id }, { $set: { ...next, sessionEpoch: toEpoch } }, { session });
    if (isEnabledAdmin(before) && (await d.c.users.countDocuments(enabledAdmins, { session, limit: 1 })) === 0) {
      throw conflict('this change would leave no enabled admin; make another user admin first');
    }
    const action = change.disabled === true && changes.disabled ? 'user.disabled' : 'user.changed';
    await recordAudit(
      d.c,
      [
        {
          entity: 'user',
          entityId: id,
          action,
          actor: meta.actor,
          at: new Date(),
          fromVersion: fromEpoch,
          toVersion: toEpoch,
          changes,
          ...(meta.requestId ? { requestId: meta.requestId } : {}),
        },
      ],
      session,
    );
    return { ...before, ...next, sessionEpoch: toEpoch };
  });
  await deleteSessionsOf(d, id);
  return toUserView(after);
}

/** "Log out everywhere": every session of the user ends now. */
export async function revokeSessions(d: DomainContext, id: string, meta: Meta): Promise<{ revoked: number }> {
  const before = await d.c.users.findOneAndUpdate({ _id: new ObjectId(id) }, { $inc: { sessionEpoch: 1 } });
  if (!before) throw notFound(`no user ${id}`);
  const fromEpoch = before.sessionEpoch ?? 0;
  const revoked = await deleteSessionsOf(d, id);
  await recordAudit(d.c, [
    {
      entity: 'user',
      entityId: id,
      action: 'user.sessions_revoked',
      actor: meta.actor,
      at: new Date(),
      fromVersion: fromEpoch,
      toVersion: fromEpoch + 1,
      changes: { sessions: { from: revoked, to: 0 } },
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
    },
  ]);
  return { revoked };
}

/**
 * The signed-in user changes their own password (the current one is required: 401 when wrong).
 * Every session of the user ends; returns the new epoch for the caller's fresh session.
 */
export async function changeOwnPassword(
  d: DomainContext,
  id: string,
  input: z.output<typeof changePasswordInput>,
  meta: Meta,
): Promise<{ epoch: number }> {
  const user = await userOr404(d, id);
  if (user.disabled === true || !(await verifyPassword(user.passwordHash, input.currentPassword))) {
    throw unauthorized('the current password is wrong');
  }
  const passwordHash = await hashPassword(input.newPassword);
  const before = await d.c.users.findOneAndUpdate({ _id: user._id }, { $set: { passwordHash }, $inc: { sessionEpoch: 1 } });
  if (!before) throw notFound(`no user ${id}`);
  const fromEpoch = before.sessionEpoch ?? 0;
  await deleteSessionsOf(d, id);
  await recordAudit(d.c, [
    {
      entity: 'user',
      entityId: id,
      action: 'user.password_changed',
      actor: meta.actor,
      at: new Date(),
      fromVersion: fromEpoch,
      toVersion: fromEpoch + 1,
      changes: { password: { from: '(hidden)', to: '(changed)' } },
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
    },
  ]);
  return { epoch: fromEpoch + 1 };
}
