import { Router } from 'express';
import { createUser, listUsers, newUserInput } from '../../lib/domain/users/users.js';
import type { AppDeps } from '../deps.js';
import { requireRole } from '../middleware/auth.js';
import { parse } from '../middleware/validate.js';

export function userRoutes(d: AppDeps): Router {
  const r = Router();
  r.use(requireRole('admin'));
  r.get('/', async (_req, res) => { res.json({ items: await listUsers(d.c) }); });
  r.post('/', async (req, res) => { res.status(201).json(await createUser(d.c, parse(newUserInput, req.body, 'body'))); });
  return r;
}
