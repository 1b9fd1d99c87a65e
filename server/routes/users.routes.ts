// User administration (admin role): list, create, change role / disabled, log a user out everywhere.
// Every change is audited (entity 'user') and a role change, disable or revocation ends the user's
// sessions at once.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { changeUser, changeUserInput, createUserAudited, revokeSessions } from '../../lib/domain/users/account-changes.js';
import { listUsers, newUserInput } from '../../lib/domain/users/users.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole } from '../middleware/auth.js';
import { body, parse } from '../middleware/validate.js';

const idParams = z.strictObject({ id: z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hex user id') });

export function userRoutes(d: ApiContext): Router {
  const r = Router();
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });
  r.use(requireRole('admin'));
  r.get('/', async (_req, res) => {
    res.json({ items: await listUsers(d.c) });
  });
  r.post('/', async (req, res) => {
    res.status(201).json(await createUserAudited(d, body(req, newUserInput), meta(req)));
  });
  r.patch('/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    res.json(await changeUser(d, id, body(req, changeUserInput), meta(req)));
  });
  r.post('/:id/sessions/revoke', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    body(req, z.strictObject({}), { optional: true });
    res.json(await revokeSessions(d, id, meta(req)));
  });
  return r;
}
