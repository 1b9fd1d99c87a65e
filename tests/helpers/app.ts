// TEMPORARY: kept only for tests/integration/supervision.test.ts until it moves to the toolkit
// (another engineer is finishing it). Use ./fixture.js, ./env.js and ./samples.js.
import type { Role } from '../../lib/domain/users/types.js';
import type { TestDb } from './db.js';
import type { Client } from './http.js';
import { loggedIn, testUser } from './users.js';

export { TEST_SECRET } from './env.js';
export { sampleApplication } from './samples.js';

export const userClient = async (t: TestDb, url: string, role: Role): Promise<Client> => loggedIn(url, await testUser(t, role));
