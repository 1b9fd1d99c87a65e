// Renders the canonical nginx.conf (top level, written for docker-compose) for local processes:
// swaps the upstream `server` lines, the `listen` address and the access log path, and adds
// pid/temp paths under a run directory so a non-root nginx runs with its own prefix. Two
// development defaults differ from the file as written (both can be turned off to run exactly
// what compose runs): the X-Upstream debug header is on, and loopback is exempt from the rate
// limits (load tests and benchmarks send everything from 127.0.0.1). Every other directive is
// used exactly as written. Throws when the file no longer has the expected shape.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../mongod/resolve.js';

const CANONICAL_NGINX_CONF = join(PROJECT_ROOT, 'nginx.conf');
const UPSTREAM_NAME = 'creditdesk_api';

export interface LocalNginxOptions {
  /** host:port of each API instance, e.g. ['127.0.0.1:3001', …]. */
  upstreams: string[];
  listenPort: number;
  listenHost?: string;
  /** nginx prefix: temp dirs, access log, pid live here. */
  runDir: string;
  /** Access log file; 'off' disables it (raw-rate benchmarks). Default <runDir>/access.log. */
  accessLog?: string;
  /** X-Upstream names the instance that answered (default true; the canonical file sends none). */
  debugUpstreamHeader?: boolean;
  /** Requests from 127.0.0.1 and ::1 are not rate limited (default true; the canonical file exempts nobody). */
  exemptLoopbackFromLimits?: boolean;
  /**
   * `user` of the worker processes. A master started as root otherwise runs them as nobody, who
   * cannot enter a private (0700) run directory to buffer request bodies there.
   */
  workerUser?: string;
}

function replaceOnce(text: string, pattern: RegExp, replacement: string | ((m: string, ...g: string[]) => string), what: string): string {
  const hits = text.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`));
  if (hits?.length !== 1) throw new Error(`nginx.conf: expected exactly one ${what}, found ${hits?.length ?? 0}`);
  return text.replace(pattern, replacement as string);
}

/** The `server host:port params;` lines of the upstream block (what compose names). */
export function upstreamServers(conf: string): { host: string; port: number; params: string }[] {
  const block = conf.match(new RegExp(`upstream\\s+${UPSTREAM_NAME}\\s*\\{([\\s\\S]*?)\\n\\s*\\}`));
  if (!block) throw new Error(`nginx.conf: no upstream ${UPSTREAM_NAME} block`);
  return [...block[1]!.matchAll(/^\s*server\s+([^\s:;]+):(\d+)([^;]*);/gm)].map((m) => ({
    host: m[1]!,
    port: Number(m[2]),
    params: m[3]!.trim(),
  }));
}

export function renderLocalNginxConf(template: string, o: LocalNginxOptions): string {
  const servers = upstreamServers(template);
  if (servers.length === 0) throw new Error('nginx.conf: the upstream block has no server lines');
  if (o.upstreams.length === 0) throw new Error('at least one upstream is needed');
  const params = servers[0]!.params;
  const lines = o.upstreams.map((u) => `        server ${u}${params ? ` ${params}` : ''};`).join('\n');
  let conf = template.replace(/^[ \t]*server\s+[^\s:;]+:\d+[^;]*;[^\n]*\n/gm, (line) => (/\{/.test(line) ? line : ''));
  conf = replaceOnce(
    conf,
    /(upstream\s+creditdesk_api\s*\{\n(?:[ \t]*#[^\n]*\n|[ \t]*zone[^\n]*\n)*)/,
    (m) => `${m}${lines}\n`,
    `upstream ${UPSTREAM_NAME} block`,
  );
  conf = replaceOnce(
    conf,
    /^(\s*)listen\s+\d+;/m,
    (_m, sp) => `${sp}listen ${o.listenHost ?? '127.0.0.1'}:${o.listenPort};`,
    'listen directive',
  );
  const access =
    o.accessLog === 'off'
      ? 'access_log off;'
      : `access_log ${o.accessLog ?? join(o.runDir, 'access.log')} creditdesk_json buffer=64k flush=1s;`;
  conf = replaceOnce(conf, /^(\s*)access_log\s+\/dev\/stdout[^;]*;/m, (_m, sp) => `${sp}${access}`, 'access_log /dev/stdout');
  if (o.debugUpstreamHeader ?? true)
    conf = replaceOnce(
      conf,
      /(map \$upstream_addr \$creditdesk_x_upstream \{\s*default )"";/,
      (_m, head) => `${head}$upstream_addr;`,
      'X-Upstream debug map',
    );
  if (o.exemptLoopbackFromLimits ?? true)
    conf = replaceOnce(
      conf,
      /(geo \$creditdesk_limit_exempt \{\n(\s*)default 0;\n)/,
      (m, _head, sp) => `${m}${sp}127.0.0.1 1;\n${sp}::1 1;\n`,
      'rate-limit exemption geo block',
    );
  conf = withTempPaths(conf, o.runDir);
  if (o.workerUser) conf = `user ${o.workerUser};\n${conf}`;
  return `# RENDERED from nginx.conf by scripts/nginx/render.ts — edit nginx.conf, not this file.\n${conf}`;
}

export const TEMP_DIRS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'] as const;

/** Adds *_temp_path directives under runDir/tmp (nginx's compiled-in ones need root). */
export function withTempPaths(conf: string, runDir: string): string {
  return replaceOnce(
    conf,
    /^http\s*\{\n/m,
    (m) =>
      `${m}    # local run: temp files under the run directory (rendered by scripts/nginx/render.ts)\n` +
      TEMP_DIRS.map((n) => `    ${n}_temp_path ${join(runDir, 'tmp', n)};\n`).join(''),
    'http block',
  );
}

export function readCanonicalConf(): string {
  return readFileSync(CANONICAL_NGINX_CONF, 'utf8');
}
