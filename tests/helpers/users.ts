// Users for tests: created straight in the test's database, each with a unique email unless given.
import type { Role } from '../../lib/domain/users/types.js';
import { createUser } from '../../lib/domain/users/users.js';
import type { TestDb } from './db.js';
import { Client } from './http.js';

export const PASSWORD = 'correct horse battery staple';

export interface TestUser {
  email: string;
  password: string;
  role: Role;
}

let n = 0;
export async function testUser(t: TestDb, role: Role, email?: string): Promise<TestUser> {
  const user = { email: email ?? `${role}${++n}-${Math.random().toString(36).slice(2, 8)}@test.local`, password: PASSWORD, role };
  await createUser(t.c, user);
  return user;
}

/** A Client on `url`, logged in as `user` (throws when the login is refused). */
export async function loggedIn(url: string, user: TestUser): Promise<Client> {
  const cl = new Client(url);
  const r = await cl.login(user.email, user.password);
  if (r.status !== 200) throw new Error(`login as ${user.email} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return cl;
}
