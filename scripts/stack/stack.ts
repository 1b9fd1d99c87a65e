// The local stack without MongoDB, under one Supervisor: the payment-gateway simulator (when the
// disbursement role runs and a port is given), the credit-bureau simulator (when the approval role
// runs and `bureau` is given: it calls back through nginx), N API instances (server/main.ts) and the workers
// (workers/main.ts, one process per role, or per role between a min and a max scaled with its
// backlog when `autoscale` is given: autoscaler.ts) started together, then nginx in front, rendered from
// the canonical nginx.conf. Each child counts as up once its readiness URL answers (API /ready,
// worker /health when it has a port, gateway /payments, /nginx-health); a child that exits before
// that fails the start with the end of its log. Used by `npm start` (with a restart policy), the
// load-test runner, the benchmarks and the integration tests, so all of them run one topology.
//
// stop() stops nginx first, then the API instances and the workers together (SIGTERM: they drain),
// then the simulators; SIGKILL for whatever outlives the deadline.
import { join } from 'node:path';
import { nginxArgs, resolveNginx, testConf, writeLocalConf } from '../nginx/nginx.js';
import { portInUse } from '../mongod/launch.js';
import type { WorkerRole } from '../../lib/config.js';
import { connectMongo } from '../../lib/db/mongo.js';
import { ROLE_EVENT_TYPES } from '../../workers/role-events.js';
import { Autoscaler, type RoleScaling } from './autoscaler.js';
import type { ScalePolicy } from './scale-decision.js';
import { Supervisor, tail, type Child, type RestartPolicy } from './supervisor.js';

export const WORKER_ROLES = ['ocr', 'approval', 'disbursement'] as const;

export interface StackOptions {
  /** MONGO_URI for the API instances (and for the workers unless workerMongoUri is given). */
  mongoUri: string;
  /** MONGO_URI for the workers (the embedded mongod's worker user); default mongoUri. */
  workerMongoUri?: string;
  dbName: string;
  sessionSecrets: string;
  /** PARTNER_KEY_SECRET for the API instances only (unset: partner routes answer 503). */
  partnerKeySecrets?: string;
  apiPorts: number[];
  nginxPort: number;
  /** Logs go to <runDir>/logs, nginx's prefix is <runDir>/nginx. */
  runDir: string;
  /** Extra environment for the API and worker processes (LOG_LEVEL, limits, …). */
  env?: Record<string, string>;
  /** Worker roles to run, one process each. */
  workerRoles?: readonly string[];
  /**
   * Worker i serves /health and /metrics on workerHttpBasePort + i, and counts as up once /health
   * answers (so a Ctrl-C right after "ready" never meets a worker still loading).
   */
  workerHttpBasePort?: number;
  /** Start the payment-gateway simulator on this port for the disbursement worker (else: ledger only). */
  paymentGatewayPort?: number;
  /**
   * Start the credit-bureau simulator (a stand-in) on `port` for the approval worker (else: no
   * bureau, approval on declared figures only). It signs its callbacks with `webhookSecret`
   * (whsec_…; the API instances get it as BUREAU_WEBHOOK_SECRETS) and sends them to nginx's
   * POST /api/webhooks/credit-bureau; `mode` is both the simulator's and the worker's BUREAU_MODE.
   */
  bureau?: { port: number; webhookSecret: string; mode: 'sync' | 'async' };
  /** Another Node binary for the API instances (benchmarks: Node 20 vs 24). */
  nodeBin?: string;
  nginxAccessLog?: string;
  log?: (m: string) => void;
  /** Restart children that exit unexpectedly (npm start). Without it an exit is only recorded. */
  restart?: RestartPolicy;
  /** Called when a child crash-loops; the supervisor is already stopping everything. */
  onCrashLoop?: (message: string) => void;
  /** How long a child may take to stop before SIGKILL (default 15 s; keep it above SHUTDOWN_TIMEOUT_MS). */
  stopTimeoutMs?: number;
  /**
   * Scale the roles named here between their min and max processes with their backlog
   * (autoscaler.ts); the others run one process. Without it, one process per role.
   */
  autoscale?: AutoscaleOptions;
  /** Aborting stops what was started so far and makes startStack throw. */
  signal?: AbortSignal;
}

export interface AutoscaleOptions {
  roles: Partial<Record<string, ScalePolicy>>;
  /** How often the backlog is read. */
  intervalMs: number;
}

export interface Api {
  name: string;
  port: number;
  url: string;
  child: Child;
}
export interface Stack {
  url: string;
  apis: Api[];
  nginx: Child;
  /** The workers started with the stack (each role's first process, or its minimum when autoscaled). */
  workers: Child[];
  /** Present when `autoscale` was given: status() per role. */
  autoscaler?: Autoscaler;
  supervisor: Supervisor;
  /** Stops nginx, then the API instances and workers (SIGTERM, drain), then the gateway; SIGKILL after the deadline. */
  stop(): Promise<void>;
}

/** Fails with a clear message naming the variable to change when a port is taken. */
export async function assertPortsFree(ports: { port: number; what: string }[]): Promise<void> {
  const taken = [];
  for (const p of ports) if (await portInUse(p.port)) taken.push(p);
  if (taken.length) {
    throw new Error(
      taken.map((p) => `port ${p.port} (${p.what}) is already in use: stop what listens there or choose another port`).join('\n'),
    );
  }
}

function workerHttpPorts(o: StackOptions): number[] {
  const base = o.workerHttpBasePort;
  return base && o.workerRoles ? o.workerRoles.map((_, i) => base + i) : [];
}

/** Every port the stack will listen on, with the setting that moves it. */
export function stackPorts(o: StackOptions): { port: number; what: string }[] {
  return [
    ...o.apiPorts.map((port, i) => ({ port, what: `API instance api-${i + 1}; set API_BASE_PORT` })),
    { port: o.nginxPort, what: 'nginx; set NGINX_PORT' },
    ...(o.paymentGatewayPort ? [{ port: o.paymentGatewayPort, what: 'the payment-gateway simulator; set PAYMENT_GATEWAY_PORT' }] : []),
    ...(o.bureau ? [{ port: o.bureau.port, what: 'the credit-bureau simulator; set BUREAU_SIMULATOR_PORT' }] : []),
    ...workerHttpPorts(o).map((port, i) => ({ port, what: `worker-${o.workerRoles![i]} health and metrics; set WORKER_HTTP_BASE_PORT` })),
  ];
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const log = o.log ?? (() => {});
  await assertPortsFree(stackPorts(o));
  const sup = new Supervisor(join(o.runDir, 'logs'), { restart: o.restart, log, stopTimeoutMs: o.stopTimeoutMs });
  if (o.onCrashLoop) {
    const cb = o.onCrashLoop;
    sup.on('crash-loop', (_c, message) => cb(message));
  }
  const aborted = new Promise<never>((_, rej) => {
    const fail = () => rej(new Error('start-up interrupted'));
    if (o.signal?.aborted) fail();
    else o.signal?.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => {});
  /** Waits for children to be up (or the start to be aborted); a failure names the child and shows its log. */
  const up = (children: Child[]) =>
    Promise.race([
      aborted,
      Promise.all(
        children.map((c) =>
          sup.whenUp(c).catch((e: Error) => {
            throw new Error(`${c.name}: ${e.message}; last lines of ${c.logFile}:\n${tail(c.logFile, 20)}`);
          }),
        ),
      ),
    ]);
  const common = { MONGO_URI: o.mongoUri, MONGO_DB: o.dbName, ...o.env };
  let autoscaler: Autoscaler | undefined;
  try {
    const workerEnv: Record<string, string> = { ...common, ...(o.workerMongoUri ? { MONGO_URI: o.workerMongoUri } : {}) };
    const roles = o.workerRoles ?? [];
    if (o.paymentGatewayPort && roles.includes('disbursement')) {
      const gwUrl = `http://127.0.0.1:${o.paymentGatewayPort}`;
      const gw = sup.node(
        'payment-gateway-simulator',
        'scripts/simulators/payment-gateway.ts',
        { PORT: String(o.paymentGatewayPort) },
        { group: 'gateway', readyUrl: `${gwUrl}/payments`, readyTimeoutMs: 30_000 },
      );
      await up([gw]);
      workerEnv.PAYMENT_GATEWAY_URL = gwUrl;
      log(`payment-gateway simulator on ${gwUrl} (stands in for the bank's payment API)`);
    }
    const apiEnv: Record<string, string> = {};
    if (o.bureau && roles.includes('approval')) {
      const bureauUrl = `http://127.0.0.1:${o.bureau.port}`;
      const sim = sup.node(
        'credit-bureau-simulator',
        'scripts/simulators/credit-bureau.ts',
        {
          PORT: String(o.bureau.port),
          BUREAU_SIM_MODE: o.bureau.mode,
          BUREAU_SIM_WEBHOOK_SECRET: o.bureau.webhookSecret,
          BUREAU_SIM_CALLBACK_URL: `http://127.0.0.1:${o.nginxPort}/api/webhooks/credit-bureau`,
        },
        { group: 'simulators', readyUrl: `${bureauUrl}/health`, readyTimeoutMs: 30_000 },
      );
      await up([sim]);
      Object.assign(workerEnv, { BUREAU_URL: bureauUrl, BUREAU_MODE: o.bureau.mode });
      apiEnv.BUREAU_WEBHOOK_SECRETS = o.bureau.webhookSecret;
      log(`credit-bureau simulator on ${bureauUrl}, ${o.bureau.mode} mode (stands in for a credit bureau; callbacks through nginx)`);
    }

    const apis: Api[] = o.apiPorts.map((port, i) => {
      const name = `api-${i + 1}`;
      const url = `http://127.0.0.1:${port}`;
      const child = sup.node(
        name,
        'server/main.ts',
        {
          ...common,
          ...apiEnv,
          SESSION_SECRETS: o.sessionSecrets,
          ...(o.partnerKeySecrets ? { PARTNER_KEY_SECRET: o.partnerKeySecrets } : {}),
          HOST: '127.0.0.1',
          PORT: String(port),
          INSTANCE_ID: name,
        },
        { group: 'app', nodeBin: o.nodeBin, readyUrl: `${url}/ready` },
      );
      return { name, port, url, child };
    });
    const ports = workerHttpPorts(o);
    /** One worker process of `role`; only a role's first process gets an HTTP port (extra ones have none, so ports never collide). */
    const startWorker = (role: string, name: string, port?: number) =>
      sup.node(
        name,
        'workers/main.ts',
        {
          ...workerEnv,
          WORKER_ROLES: role,
          INSTANCE_ID: name,
          ...(port ? { WORKER_HTTP_HOST: '127.0.0.1', WORKER_HTTP_PORT: String(port) } : {}),
        },
        { group: 'app', ...(port ? { readyUrl: `http://127.0.0.1:${port}/health` } : {}) },
      );
    // `worker-<role>`, then (an autoscaled role's minimum above 1) `worker-<role>-2`, … .
    const byRole: Record<string, Child[]> = Object.fromEntries(
      roles.map((role, i) => [
        role,
        Array.from({ length: o.autoscale?.roles[role]?.min ?? 1 }, (_, n) =>
          n === 0 ? startWorker(role, `worker-${role}`, ports[i]) : startWorker(role, `worker-${role}-${n + 1}`),
        ),
      ]),
    );
    const workers = Object.values(byRole).flat();
    await up([...apis.map((a) => a.child), ...workers]);
    log(`${apis.length} API instances ready on ports ${o.apiPorts.join(', ')}`);
    const scaled = scaledRoles(roles, o.autoscale);
    if (roles.length)
      log(
        `workers ready: ${roles.map((r, i) => (ports[i] ? `${r} (metrics on http://127.0.0.1:${ports[i]}/metrics)` : r)).join(', ')}; ${scaled.length ? 'scaled with the backlog' : 'one process per role'}`,
      );
    if (scaled.length && o.autoscale) autoscaler = await startAutoscaler(o, o.autoscale.intervalMs, scaled, sup, byRole, startWorker, log);

    const nginxDir = join(o.runDir, 'nginx');
    const url = `http://127.0.0.1:${o.nginxPort}`;
    const bin = resolveNginx(log);
    const conf = writeLocalConf({
      upstreams: o.apiPorts.map((p) => `127.0.0.1:${p}`),
      listenPort: o.nginxPort,
      runDir: nginxDir,
      ...(o.nginxAccessLog ? { accessLog: o.nginxAccessLog } : {}),
    });
    testConf(bin, nginxDir, conf);
    // SIGQUIT is nginx's graceful stop.
    const nginx = sup.spawn(
      'nginx',
      bin,
      nginxArgs(nginxDir, conf),
      {},
      { stopSignal: 'SIGQUIT', group: 'nginx', readyUrl: `${url}/nginx-health`, readyTimeoutMs: 15_000 },
    );
    await up([nginx]);
    const stop = async () => {
      // The autoscaler first: no process is started or retired once stopAll runs (a retiring
      // process is awaited, so it never gets a second SIGTERM in the middle of its drain).
      await autoscaler?.stop();
      await sup.stopAll();
    };
    const started = autoscaler;
    sup.on('crash-loop', () => void started?.stop());
    return { url, apis, nginx, workers, supervisor: sup, ...(started ? { autoscaler: started } : {}), stop };
  } catch (e) {
    await autoscaler?.stop();
    await sup.stopAll();
    throw e;
  }
}

/** The roles to autoscale: those that run here and have room between their min and max (min = max: that many, unscaled). */
function scaledRoles(roles: readonly string[], a: AutoscaleOptions | undefined): RoleScaling[] {
  return roles.flatMap((role) => {
    const policy = a?.roles[role];
    if (!policy || policy.max <= policy.min) return [];
    const types = ROLE_EVENT_TYPES[role as WorkerRole];
    if (!types) throw new Error(`cannot autoscale the unknown worker role ${role}`);
    return [{ role, types, policy }];
  });
}

/** The autoscaler over `roles`, with its own MongoDB connection (closed when it stops). */
async function startAutoscaler(
  o: StackOptions,
  intervalMs: number,
  roles: RoleScaling[],
  supervisor: Supervisor,
  initial: Record<string, Child[]>,
  spawn: (role: string, name: string) => Child,
  log: (m: string) => void,
): Promise<Autoscaler> {
  const mongo = await connectMongo(o.workerMongoUri ?? o.mongoUri, o.dbName, 'creditdesk-autoscaler');
  const autoscaler = new Autoscaler({ supervisor, db: mongo.db, roles, initial, spawn, intervalMs, log, close: mongo.close });
  log(
    `autoscaling ${roles.map((r) => `${r.role} ${r.policy.min}–${r.policy.max} (${r.policy.jobsPerProcess} events per process)`).join(', ')}; backlog read every ${intervalMs} ms`,
  );
  return autoscaler.start();
}
