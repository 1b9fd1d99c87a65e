// No Docker engine here: docker-compose.yml, the Dockerfile and nginx.conf are checked against
// each other and against the code (config schemas, entry points), and both nginx variants
// (local rendering, compose file) pass `nginx -t`.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { migrateSchema, parseEnv, serverSchema, workerSchema } from '../../lib/config.js';
import { PROJECT_ROOT } from '../../scripts/mongod/resolve.js';
import { readCanonicalConf, renderLocalNginxConf, upstreamServers, withTempPaths } from '../../scripts/nginx/render.js';
import { directive, nginxSyntaxCheck } from '../helpers/nginx.js';

interface Service {
  image?: string;
  build?: string;
  command?: string[] | string;
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  deploy?: { replicas?: number };
  volumes?: string[];
  restart?: string;
}
const root = (p: string) => join(PROJECT_ROOT, p);
const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const nginxConf = readCanonicalConf();
const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
const envExample = new Set([...readFileSync(root('.env.example'), 'utf8').matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
const schemaNames = new Set([serverSchema, workerSchema, migrateSchema].flatMap((s) => Object.keys(s.shape)));
const appServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
const apis = Object.keys(services).filter((n) => /^api-\d+$/.test(n));

/** Compose interpolation for the test: ${VAR:-default} → default, ${VAR:?msg} → `given[VAR]`. */
const interpolate = (v: string, given: Record<string, string>) =>
  v.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*)|:?\?[^}]*)?\}/g, (_m, name: string, def?: string) => given[name] ?? def ?? '');
const SECRET = 'compose-test-secret-0123456789abcdef0123456789';

describe('docker-compose.yml', () => {
  test('has the replica set, its init job, migrations, three API instances, the workers and nginx', () => {
    for (const n of [
      'mongo-1',
      'mongo-2',
      'mongo-3',
      'mongo-init',
      'migrate',
      'api-1',
      'api-2',
      'api-3',
      'worker-ocr',
      'worker-approval',
      'worker-disbursement',
      'nginx',
    ]) {
      assert.ok(services[n], `service ${n}`);
    }
    assert.deepEqual(apis, ['api-1', 'api-2', 'api-3']);
    const replicas = (n: string) => services[n]!.deploy?.replicas ?? 1;
    assert.deepEqual([replicas('worker-ocr'), replicas('worker-approval'), replicas('worker-disbursement')], [2, 2, 1]);
    for (const n of ['mongo-1', 'mongo-2', 'mongo-3']) {
      assert.equal(services[n]!.image, 'mongo:6');
      assert.deepEqual(services[n]!.command, ['mongod', '--replSet', 'rs0', '--bind_ip_all', '--port', '27017']);
      assert.ok(
        services[n]!.volumes?.some((v) => v.endsWith(':/data/db')),
        `${n} keeps its data in a volume`,
      );
    }
    const init = (services['mongo-init']!.command as string[]).join(' ');
    assert.match(init, /rs\.initiate/);
    for (const h of ['mongo-1:27017', 'mongo-2:27017', 'mongo-3:27017']) assert.ok(init.includes(`'${h}'`), h);
    for (const [n, s] of appServices) {
      assert.match(
        s.environment?.MONGO_URI ?? '',
        /^mongodb:\/\/mongo-1:27017,mongo-2:27017,mongo-3:27017\/\?replicaSet=rs0$/,
        `${n} MONGO_URI`,
      );
    }
  });

  test('commands run the built entry points of one image: API, workers per role, migrations', () => {
    const built = (cmd: string[]) => {
      assert.equal(cmd[0], 'node');
      const src = cmd[1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      assert.ok(existsSync(root(src)), `${cmd[1]} is built from ${src}`);
      return cmd[1];
    };
    for (const n of apis) assert.equal(built(services[n]!.command as string[]), 'dist/server/main.js');
    for (const role of ['ocr', 'approval', 'disbursement']) {
      const s = services[`worker-${role}`]!;
      assert.equal(built(s.command as string[]), 'dist/workers/main.js');
      assert.equal(s.environment?.WORKER_ROLES, role);
    }
    assert.equal(built(services.migrate!.command as string[]), 'dist/scripts/migrate.js');
    const images = new Set(appServices.map(([, s]) => `${s.build}|${s.image}`));
    assert.equal(images.size, 1, 'every app service uses the same image');
    assert.match(dockerfile, /^CMD \["node", "dist\/server\/main\.js"\]$/m);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^HEALTHCHECK /m);
    assert.match(dockerfile, /RUN npm run build/);
    assert.match(dockerfile, /npm ci --omit=dev/);
    const build: string = JSON.parse(readFileSync(root('package.json'), 'utf8')).scripts.build;
    assert.match(build, /^tsc -p tsconfig\.build\.json/);
    assert.match(build, /cp -r server\/public dist\/server\//, 'the ops dashboard assets ship in dist/');
  });

  test('every environment variable it sets or interpolates is a real setting (lib/config.ts or .env.example), with valid values', () => {
    const raw = readFileSync(root('docker-compose.yml'), 'utf8');
    const known = (n: string) => schemaNames.has(n) || envExample.has(n);
    for (const [, name] of raw.matchAll(/\$\{([A-Z0-9_]+)/g)) assert.ok(known(name!), `interpolated \${${name}} is not a known setting`);
    for (const [n, s] of appServices) {
      for (const k of Object.keys(s.environment ?? {})) assert.ok(known(k), `${n}: ${k} is not in lib/config.ts or .env.example`);
      const env = Object.fromEntries(
        Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), { SESSION_SECRETS: SECRET })]),
      );
      const schema = n.startsWith('api-') ? serverSchema : n.startsWith('worker-') ? workerSchema : migrateSchema;
      assert.doesNotThrow(() => parseEnv(schema, env), `${n}: its environment passes its config schema`);
    }
    for (const n of apis) {
      const cfg = parseEnv(
        serverSchema,
        Object.fromEntries(Object.entries(services[n]!.environment!).map(([k, v]) => [k, interpolate(v, { SESSION_SECRETS: SECRET })])),
      );
      assert.equal(cfg.INSTANCE_ID, n);
      assert.equal(cfg.HOST, '0.0.0.0');
      assert.equal(cfg.TRUST_PROXY_HOPS, 1);
    }
    assert.match(
      services['api-1']!.environment!.SESSION_SECRETS!,
      /^\$\{SESSION_SECRETS:\?/,
      'no default secret: compose refuses to start without one',
    );
  });

  test('healthchecks everywhere, and start order through depends_on conditions', () => {
    for (const [n, s] of Object.entries(services)) {
      const oneShot = s.restart === 'no';
      if (!oneShot) assert.ok(s.healthcheck?.test?.length, `${n} has a healthcheck`);
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        assert.ok(services[dep], `${n} depends on unknown ${dep}`);
        const want = services[dep]!.restart === 'no' ? 'service_completed_successfully' : 'service_healthy';
        assert.equal(condition, want, `${n} → ${dep}`);
      }
    }
    assert.deepEqual(Object.keys(services.nginx!.depends_on ?? {}).sort(), apis);
    assert.deepEqual(Object.keys(services['mongo-init']!.depends_on ?? {}).sort(), ['mongo-1', 'mongo-2', 'mongo-3']);
    for (const n of [...apis, 'worker-ocr']) assert.deepEqual(Object.keys(services[n]!.depends_on ?? {}), ['migrate']);
    for (const n of apis) assert.match(services[n]!.healthcheck!.test!.join(' '), /127\.0\.0\.1:3000\/ready/);
    const workerPort = services['worker-ocr']!.environment!.WORKER_HTTP_PORT;
    assert.match(services['worker-ocr']!.healthcheck!.test!.join(' '), new RegExp(`127\\.0\\.0\\.1:${workerPort}/health`));
  });
});

describe('nginx.conf against compose and the app settings', () => {
  test('upstream servers are the compose API services on their PORT; nginx publishes its listen port', () => {
    const ups = upstreamServers(nginxConf);
    assert.deepEqual(
      ups.map((u) => u.host),
      apis,
    );
    for (const u of ups) {
      assert.equal(String(u.port), services[u.host]!.environment!.PORT);
      assert.match(u.params, /max_fails=\d+/);
      assert.match(u.params, /fail_timeout=\d+s/);
    }
    assert.equal(directive(nginxConf, 'listen'), '8080');
    assert.deepEqual(services.nginx!.ports, ['8080:8080']);
    assert.ok(services.nginx!.volumes?.includes('./nginx.conf:/etc/nginx/nginx.conf:ro'));
  });

  test('keepalive, retries only for idempotent requests, body limit and timeouts in step with the API', () => {
    const defaults = parseEnv(serverSchema, { MONGO_URI: 'mongodb://x', SESSION_SECRETS: SECRET });
    assert.match(nginxConf, /^\s*keepalive \d+;/m);
    assert.equal(directive(nginxConf, 'proxy_http_version'), '1.1');
    assert.match(nginxConf, /proxy_set_header Connection "";/);
    const upstreamKeepalive = nginxConf.match(/upstream creditdesk_api \{[\s\S]*?keepalive_timeout (\d+)s;/)?.[1];
    assert.ok(
      Number(upstreamKeepalive) * 1000 < defaults.KEEP_ALIVE_TIMEOUT_MS,
      'nginx closes idle upstream connections before the API does',
    );
    assert.ok(
      Number(upstreamKeepalive) * 1000 < defaults.SHUTDOWN_TIMEOUT_MS,
      'a draining instance (which never cuts idle connections) is let go before its deadline',
    );
    const retry = directive(nginxConf, 'proxy_next_upstream')!;
    assert.deepEqual(retry.split(/\s+/), ['error', 'timeout', 'http_502', 'http_503']);
    assert.doesNotMatch(nginxConf, /^\s*proxy_next_upstream[^;]*non_idempotent/m);
    const body = directive(nginxConf, 'client_max_body_size')!;
    assert.ok(Number(body.replace(/m$/, '')) * 1024 * 1024 >= defaults.UPLOAD_LIMIT_BYTES, body);
    for (const h of ['X-Request-Id', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host'])
      assert.match(nginxConf, new RegExp(`proxy_set_header ${h} `));
    assert.match(nginxConf, /location = \/api\/admin\/stream \{[^}]*proxy_buffering off;[^}]*proxy_read_timeout 1h;/);
    assert.match(nginxConf, /log_format creditdesk_json escape=json[\s\S]*\$upstream_addr[\s\S]*\$upstream_response_time/);
  });

  test('nginx -t accepts the local rendering and the compose file (service names mapped to 127.0.0.1)', () => {
    const local = (runDir: string) =>
      renderLocalNginxConf(nginxConf, { upstreams: ['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003'], listenPort: 8080, runDir });
    assert.match(nginxSyntaxCheck(local), /test is successful/);
    assert.deepEqual(
      upstreamServers(local('/x')).map((u) => `${u.host}:${u.port}`),
      ['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003'],
    );
    // The compose file as mounted, except that its service names must resolve here and temp
    // files go to the scratch prefix (the image's compiled-in paths need root).
    const composeVariant = nginxConf.replace(/\bserver (api-\d+):3000/g, 'server 127.0.0.1:3000');
    assert.equal(upstreamServers(composeVariant).length, 3);
    assert.match(
      nginxSyntaxCheck((runDir) => withTempPaths(composeVariant, runDir)),
      /test is successful/,
    );
  });
});
