// The embedded MongoDB of `npm start` and `tsx scripts/mongod.ts run`: one mongod (a single-node
// replica set, data in <DATA_DIR>/mongod) or, with MONGO_REPLICAS=3 (5, 7), that many mongod
// processes on MONGO_PORT, MONGO_PORT+1, … forming replica set rs0 (data in
// <DATA_DIR>/mongod-rs<N>/member-<i>; a separate directory, since a single-node set's data cannot
// simply become one member of three). Access control as for the single mongod: the keyfile and
// users of scripts/mongod/auth.ts, the keyfile doubling as the members' internal authentication.
import { join } from 'node:path';
import type { LocalAuth } from './auth.js';
import { launchMongod, type RunningMongo } from './launch.js';
import { launchReplicaSet } from './replica-set.js';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  replicas: number;
  auth: { files: LocalAuth; dbName: string };
  log: (m: string) => void;
}

export async function launchEmbeddedMongo(o: EmbeddedOptions): Promise<RunningMongo> {
  if (o.replicas <= 1) return launchMongod({ dbPath: join(o.dataDir, 'mongod'), port: o.port, log: o.log, auth: o.auth });
  const ports = Array.from({ length: o.replicas }, (_, i) => o.port + i);
  const rs = await launchReplicaSet({ dir: join(o.dataDir, `mongod-rs${o.replicas}`), ports, auth: o.auth, log: o.log });
  o.log(`[mongod] replica set ready: ${rs.uri} (primary ${rs.members[0]!.host}, preferred by priority)`);
  return rs;
}
