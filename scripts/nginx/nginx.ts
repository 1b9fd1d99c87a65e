// Runs Debian's nginx as an ordinary child process: not daemonized, its own prefix, pid, temp and
// log paths under a run directory (no root, no /etc/nginx, no /var/lib/nginx), with the
// canonical nginx.conf rendered for local upstreams. Installs nginx when missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../mongod/resolve.js';
import type { Child, Supervisor } from '../stack/supervisor.js';
import { readCanonicalConf, renderLocalNginxConf, TEMP_DIRS, type LocalNginxOptions } from './render.js';

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];

/** The nginx binary: NGINX_BIN, a usual path, or PATH; runs scripts/install-system-deps.sh when absent. */
export function resolveNginx(log: (m: string) => void = console.error): string {
  const find = () => {
    const env = process.env.NGINX_BIN;
    if (env) {
      if (!existsSync(env)) throw new Error(`NGINX_BIN=${env} does not exist`);
      return env;
    }
    const hit = CANDIDATES.find((p) => existsSync(p));
    if (hit) return hit;
    const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
    return which.status === 0 ? which.stdout.trim() : undefined;
  };
  let bin = find();
  if (!bin) {
    log('[nginx] not installed: running scripts/install-system-deps.sh (Debian nginx-light)');
    execFileSync('bash', [join(PROJECT_ROOT, 'scripts/install-system-deps.sh'), 'stack'], { stdio: 'inherit' });
    bin = find();
    if (!bin) throw new Error('nginx is still missing after scripts/install-system-deps.sh; install nginx-light or set NGINX_BIN');
  }
  return bin;
}

/** Writes the rendered config into runDir and returns its path. */
export function writeLocalConf(o: LocalNginxOptions): string {
  for (const d of TEMP_DIRS) mkdirSync(join(o.runDir, 'tmp', d), { recursive: true });
  const file = join(o.runDir, 'nginx.conf');
  // Started as root, the workers stay root: nobody could not use temp paths under a private run dir.
  const workerUser = o.workerUser ?? (process.getuid?.() === 0 ? 'root' : undefined);
  writeFileSync(file, renderLocalNginxConf(readCanonicalConf(), { ...o, ...(workerUser ? { workerUser } : {}) }));
  return file;
}

export const nginxArgs = (runDir: string, conf: string) => [
  '-p',
  runDir,
  '-c',
  conf,
  '-e',
  'stderr',
  '-g',
  `daemon off; pid ${join(runDir, 'nginx.pid')};`,
];

/** `nginx -t` on a config file; throws with nginx's own message when it is invalid. */
export function testConf(bin: string, runDir: string, conf: string): string {
  mkdirSync(runDir, { recursive: true });
  // Output to a file, not a pipe: libuv's pipes are sockets, and nginx cannot open() /dev/stdout
  // on a socket (a config logging to /dev/stdout, like the compose one, would fail the test).
  const outFile = join(runDir, 'nginx-t.out');
  const fd = openSync(outFile, 'w');
  let r: ReturnType<typeof spawnSync>;
  try {
    r = spawnSync(bin, ['-t', ...nginxArgs(runDir, conf)], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const out = readFileSync(outFile, 'utf8').trim();
  if (r.status !== 0) throw new Error(`nginx -t failed for ${conf}:\n${out}`);
  return out;
}

/** Renders, checks and starts nginx under the supervisor; SIGQUIT is nginx's graceful stop. */
export function startNginx(sup: Supervisor, o: LocalNginxOptions & { name?: string; log?: (m: string) => void }): Child {
  const bin = resolveNginx(o.log);
  const conf = writeLocalConf(o);
  testConf(bin, o.runDir, conf);
  return sup.spawn(o.name ?? 'nginx', bin, nginxArgs(o.runDir, conf), {}, { stopSignal: 'SIGQUIT', group: 'nginx' });
}
