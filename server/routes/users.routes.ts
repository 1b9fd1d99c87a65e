// User administration (admin role): list, create, change role / disabled, log a user out everywhere.
// Every change is audited (entity 'user') and a role change, disable or revocation ends the user's
// sessions at once.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { changeUser, changeUserInput, createUserAudited, revokeSessions } from '../../lib/domain/users/account-changes.js';
import { listUsers, newUserInput } from '../../lib/domain/users/users.js';
import type { ApiContext } from '../context.js';
import { actor } from '../middleware/auth.js';
import { routes } from '../openapi/operation.js';
import { userView } from '../openapi/schemas.js';

const idParams = z.strictObject({ id: z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hex user id') });
const common = { tags: ['users'], security: 'session', role: 'admin' } as const;
const notFound = { description: 'no such user' };

export function userRoutes(d: ApiContext): Router {
  const r = Router();
  const t = routes(r);
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });
  t.get(
    '/',
    { ...common, summary: 'List users', responses: { 200: { description: 'every user', schema: z.object({ items: z.array(userView) }) } } },
    async (_i, _req, res) => {
      res.json({ items: await listUsers(d.c) });
    },
  );
  t.post(
    '/',
    {
      ...common,
      summary: 'Create a user (password hashed with argon2id)',
      body: newUserInput,
      example: { email: 'reviewer@example.com', password: 'correct horse battery', role: 'reviewer' },
      responses: { 201: { description: 'the user', schema: userView }, 409: { description: 'the email is taken' } },
    },
    async ({ body }, req, res) => {
      res.status(201).json(await createUserAudited(d, body, meta(req)));
    },
  );
  t.patch(
    '/:id',
    {
      ...common,
      summary: "Change a user's role or disable them (ends their sessions)",
      params: idParams,
      body: changeUserInput,
      example: { role: 'viewer' },
      responses: {
        200: { description: 'the user', schema: userView },
        404: notFound,
        409: { description: 'this would leave no enabled admin' },
      },
    },
    async ({ params, body }, req, res) => {
      res.json(await changeUser(d, params.id, body, meta(req)));
    },
  );
  t.post(
    '/:id/sessions/revoke',
    {
      ...common,
      summary: 'Log a user out everywhere',
      params: idParams,
      body: z.strictObject({}),
      bodyOptional: true,
      responses: { 200: { description: 'how many sessions ended', schema: z.object({ revoked: z.number().int() }) }, 404: notFound },
    },
    async ({ params }, req, res) => {
      res.json(await revokeSessions(d, params.id, meta(req)));
    },
  );
  return r;
}
