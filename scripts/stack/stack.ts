// The local stack without MongoDB: N API instances (server/main.ts) on their own ports, the
// workers (one process per role, when workers/main.ts exists) and nginx in front, rendered
// from the canonical nginx.conf. Used by `npm start`, the load-test runner, the benchmarks and
// the integration tests, so all of them run the same topology.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startNginx } from '../nginx/nginx.js';
import { PROJECT_ROOT } from '../mongod/resolve.js';
import { Supervisor, waitForHttp, type Child } from './supervisor.js';
import { portInUse } from '../mongod/launch.js';

export const WORKER_ENTRY = join(PROJECT_ROOT, 'workers/main.ts');
export const WORKER_ROLES = ['ocr', 'approval', 'disbursement'] as const;

export interface StackOptions {
  mongoUri: string;
  dbName: string;
  sessionSecrets: string;
  apiPorts: number[];
  nginxPort: number;
  /** Logs go to <runDir>/logs, nginx's prefix is <runDir>/nginx. */
  runDir: string;
  /** Extra environment for the API and worker processes (LOG_LEVEL, limits, …). */
  env?: Record<string, string>;
  /** Worker roles to run, one process each; skipped (with a note) while workers/main.ts does not exist. */
  workerRoles?: readonly string[];
  /**
   * Worker i serves /health and /metrics on workerHttpBasePort + i, and the stack waits for each
   * before it is up (so a Ctrl-C right after "ready" never meets a worker still loading).
   */
  workerHttpBasePort?: number;
  /** Start the payment-gateway simulator on this port for the disbursement worker (else: ledger only). */
  paymentGatewayPort?: number;
  /** Another Node binary for the API instances (benchmarks: Node 20 vs 24). */
  nodeBin?: string;
  nginxAccessLog?: string;
  log?: (m: string) => void;
  /** Called when a child exits while the stack is up (not during stop()). */
  onUnexpectedExit?: (c: Child, code: number | null) => void;
}

export interface Api { name: string; port: number; url: string; child: Child }
export interface Stack {
  url: string;
  apis: Api[];
  nginx: Child;
  workers: Child[];
  supervisor: Supervisor;
  /** Stops nginx, then workers and the API instances (SIGTERM, drain), SIGKILL after the deadline. */
  stop(): Promise<void>;
}

/** Fails with a clear message naming the variable to change when a port is taken. */
export async function assertPortsFree(ports: { port: number; what: string }[]): Promise<void> {
  const taken = [];
  for (const p of ports) if (await portInUse(p.port)) taken.push(p);
  if (taken.length) {
    throw new Error(taken.map((p) => `port ${p.port} (${p.what}) is already in use: stop what listens there or choose another port`).join('\n'));
  }
}

function workerHttpPorts(o: StackOptions): number[] {
  return o.workerHttpBasePort && o.workerRoles ? o.workerRoles.map((_, i) => o.workerHttpBasePort! + i) : [];
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const log = o.log ?? (() => {});
  await assertPortsFree([
    ...o.apiPorts.map((port, i) => ({ port, what: `API instance api-${i + 1}; set API_BASE_PORT` })),
    { port: o.nginxPort, what: 'nginx; set NGINX_PORT' },
    ...(o.paymentGatewayPort ? [{ port: o.paymentGatewayPort, what: 'the payment-gateway simulator; set PAYMENT_GATEWAY_PORT' }] : []),
    ...workerHttpPorts(o).map((port, i) => ({ port, what: `worker-${o.workerRoles![i]} health and metrics; set WORKER_HTTP_BASE_PORT` })),
  ]);
  let up = false;
  const sup = new Supervisor(join(o.runDir, 'logs'), (c, code) => { if (up) o.onUnexpectedExit?.(c, code); });
  const common = { MONGO_URI: o.mongoUri, MONGO_DB: o.dbName, ...o.env };
  try {
    const apis: Api[] = o.apiPorts.map((port, i) => {
      const name = `api-${i + 1}`;
      const child = sup.node(name, 'server/main.ts', {
        ...common, SESSION_SECRETS: o.sessionSecrets, HOST: '127.0.0.1', PORT: String(port), INSTANCE_ID: name,
      }, { group: 'api', nodeBin: o.nodeBin });
      return { name, port, url: `http://127.0.0.1:${port}`, child };
    });
    await Promise.all(apis.map((a) => waitForHttp(`${a.url}/ready`, 60_000, () => a.child.proc.exitCode === null)
      .catch((e: Error) => { throw new Error(`${a.name}: ${e.message}; see ${a.child.logFile}`); })));
    log(`${apis.length} API instances ready on ports ${o.apiPorts.join(', ')}`);

    const workers: Child[] = [];
    const workerEnv: Record<string, string> = { ...common };
    if (o.paymentGatewayPort && o.workerRoles?.includes('disbursement')) {
      const gw = sup.node('payment-gateway-simulator', 'scripts/simulators/payment-gateway.ts', { PORT: String(o.paymentGatewayPort) }, { group: 'workers' });
      const gwUrl = `http://127.0.0.1:${o.paymentGatewayPort}`;
      await waitForHttp(`${gwUrl}/payments`, 30_000, () => gw.proc.exitCode === null);
      workerEnv.PAYMENT_GATEWAY_URL = gwUrl;
      log(`payment-gateway simulator on ${gwUrl} (stands in for the bank's payment API)`);
    }
    if (o.workerRoles?.length) {
      if (existsSync(WORKER_ENTRY)) {
        const ports = workerHttpPorts(o);
        o.workerRoles.forEach((role, i) => workers.push(sup.node(`worker-${role}`, 'workers/main.ts', {
          ...workerEnv, WORKER_ROLES: role, INSTANCE_ID: `worker-${role}`,
          ...(ports[i] ? { WORKER_HTTP_HOST: '127.0.0.1', WORKER_HTTP_PORT: String(ports[i]) } : {}),
        }, { group: 'workers' })));
        await Promise.all(ports.map((port, i) => waitForHttp(`http://127.0.0.1:${port}/health`, 60_000, () => workers[i]!.proc.exitCode === null)
          .catch((e: Error) => { throw new Error(`${workers[i]!.name}: ${e.message}; see ${workers[i]!.logFile}`); })));
        log(`workers ready: ${o.workerRoles.map((r, i) => (ports[i] ? `${r} (metrics on http://127.0.0.1:${ports[i]}/metrics)` : r)).join(', ')}; one process per role`);
      } else {
        log('workers/main.ts does not exist yet: no workers started');
      }
    }

    const runDir = join(o.runDir, 'nginx');
    const nginx = startNginx(sup, {
      upstreams: o.apiPorts.map((p) => `127.0.0.1:${p}`), listenPort: o.nginxPort, runDir, log,
      ...(o.nginxAccessLog ? { accessLog: o.nginxAccessLog } : {}),
    });
    const url = `http://127.0.0.1:${o.nginxPort}`;
    await waitForHttp(`${url}/nginx-health`, 15_000, () => nginx.proc.exitCode === null)
      .catch((e: Error) => { throw new Error(`nginx: ${e.message}; see ${nginx.logFile}`); });
    up = true;
    return { url, apis, nginx, workers, supervisor: sup, stop: () => sup.stopAll() };
  } catch (e) {
    await sup.stopAll();
    throw e;
  }
}
