// CLI: `tsx scripts/mongod.ts fetch` makes sure a mongod binary is available (used by npm start/test);
// `tsx scripts/mongod.ts run` starts the embedded replica set in the foreground until Ctrl-C
// (MONGO_REPLICAS=3: three mongod processes on MONGO_PORT… as `npm start` runs them).
import { join } from 'node:path';
import { baseSchema, embeddedMongoSchema, loadConfigOrExit } from '../lib/config.js';
import { ensureLocalAuth, localDataDir } from './mongod/auth.js';
import { resolveMongod } from './mongod/resolve.js';
import { launchEmbeddedMongo } from './mongod/embedded.js';

const cmd = process.argv[2] ?? 'fetch';
const cfg = loadConfigOrExit(embeddedMongoSchema.extend({ MONGO_DB: baseSchema.shape.MONGO_DB }), 'mongod');
try {
  if (cmd === 'fetch') {
    if (cfg.MONGO_URI) process.exit(0); // a server is given: nothing to fetch
    const r = await resolveMongod();
    console.error(`[mongod] using ${r.path} — ${r.source}`);
  } else if (cmd === 'run') {
    // The same data and access control as `npm start` (keyfile and users in DATA_DIR/mongo-auth).
    const data = localDataDir(cfg.DATA_DIR);
    const auth = { files: ensureLocalAuth(join(data, 'mongo-auth')), dbName: cfg.MONGO_DB };
    const m = await launchEmbeddedMongo({ dataDir: data, port: cfg.MONGO_PORT, replicas: cfg.MONGO_REPLICAS, auth, log: console.error });
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
