// `npm run create-admin -- --email a@b.c --password '…' [--role admin|reviewer|viewer]`
import { parseArgs } from 'node:util';
import { createUser, newUserInput } from '../lib/domain/users/users.js';
import { AppError } from '../lib/errors.js';
import { cliContext } from './lib/cli.js';

const { values } = parseArgs({
  options: { email: { type: 'string' }, password: { type: 'string' }, role: { type: 'string', default: 'admin' } },
});
const input = newUserInput.safeParse(values);
if (!input.success) {
  console.error('usage: npm run create-admin -- --email ADDRESS --password SECRET [--role admin|reviewer|viewer]');
  for (const i of input.error.issues) console.error(`  --${i.path.join('.')}: ${i.message}`);
  process.exit(2);
}
const { ctx } = await cliContext('create-admin');
try {
  const user = await createUser(ctx.c, input.data);
  console.log(`created ${user.role} ${user.email} (${user.id})`);
} catch (e) {
  if (e instanceof AppError) {
    console.error(e.message);
    process.exitCode = 1;
  } else throw e;
} finally {
  await ctx.close();
}
