// CLI: `tsx scripts/mongod.ts fetch` makes sure a mongod binary is available (used by npm start/test);
// `tsx scripts/mongod.ts run` starts the embedded replica set in the foreground until Ctrl-C.
import { join } from 'node:path';
import { resolveMongod, PROJECT_ROOT } from './mongod/resolve.js';
import { launchMongod } from './mongod/launch.js';

const cmd = process.argv[2] ?? 'fetch';
try {
  if (cmd === 'fetch') {
    if (process.env.MONGO_URI) process.exit(0);
    const r = await resolveMongod();
    console.error(`[mongod] using ${r.path} — ${r.source}`);
  } else if (cmd === 'run') {
    const port = Number(process.env.MONGO_PORT ?? 27018);
    const m = await launchMongod({ dbPath: join(PROJECT_ROOT, '.data', 'mongod'), port });
    console.error(`[mongod] ready: ${m.uri}`);
    const stop = () => void m.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } else {
    console.error('usage: tsx scripts/mongod.ts fetch|run');
    process.exit(2);
  }
} catch (e) {
  console.error(`[mongod] ${(e as Error).message}`);
  process.exit(1);
}
