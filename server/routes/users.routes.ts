import { Router } from 'express';
import { createUser, listUsers, newUserInput } from '../../lib/domain/users/users.js';
import type { ApiContext } from '../context.js';
import { requireRole } from '../middleware/auth.js';
import { parse } from '../middleware/validate.js';

export function userRoutes(d: ApiContext): Router {
  const r = Router();
  r.use(requireRole('admin'));
  r.get('/', async (_req, res) => {
    res.json({ items: await listUsers(d.c) });
  });
  r.post('/', async (req, res) => {
    res.status(201).json(await createUser(d.c, parse(newUserInput, req.body, 'body')));
  });
  return r;
}
