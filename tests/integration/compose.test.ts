// No Docker engine here: docker-compose.yml, the Dockerfile and nginx.conf are checked against
// each other and against the code (config schemas, entry points), deploy/secrets.sh is run into a
// temp dir and its output checked, and the nginx variants (local rendering, compose file with the
// TLS server of deploy/nginx/tls.conf and a throwaway self-signed certificate) pass `nginx -t`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { migrateSchema, parseEnv, serverSchema, workerSchema } from '../../lib/config.js';
import { rolesFor } from '../../scripts/mongod/auth.js';
import { usersFromSecrets } from '../../scripts/mongod/init-cluster.js';
import { PROJECT_ROOT } from '../../scripts/mongod/resolve.js';
import { readCanonicalConf, renderLocalNginxConf, upstreamServers, withTempPaths } from '../../scripts/nginx/render.js';
import { directive, nginxSyntaxCheck } from '../helpers/nginx.js';

interface Service {
  image?: string;
  build?: string;
  command?: string[] | string;
  entrypoint?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  env_file?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  deploy?: { replicas?: number };
  volumes?: string[];
  restart?: string;
  /** A list, or a map of network name → settings (e.g. a fixed address). */
  networks?: string[] | Record<string, unknown>;
  network_mode?: string;
  mem_limit?: string;
  read_only?: boolean;
  tmpfs?: string[];
  secrets?: string[];
}
const root = (p: string) => join(PROJECT_ROOT, p);
const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean; ipam?: unknown } | null>;
  secrets: Record<string, { file?: string }>;
};
const services = compose.services;
const nginxConf = readCanonicalConf();
const tlsConf = readFileSync(root('deploy/nginx/tls.conf'), 'utf8');
const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
const envExample = new Set([...readFileSync(root('.env.example'), 'utf8').matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
const schemaNames = new Set([serverSchema, workerSchema, migrateSchema].flatMap((s) => Object.keys(s.shape)));
/** The services running the app's processes (mongo-init runs the same image as a one-shot tool). */
const appServices = Object.entries(services).filter(([n, s]) => s.build !== undefined && n !== 'mongo-init');
const apis = Object.keys(services).filter((n) => /^api-\d+$/.test(n));
const MONGO_HOSTS = 'mongo-1:27017,mongo-2:27017,mongo-3:27017';
/** The line in nginx.conf's server block that takes in deploy/nginx/tls.conf in compose. */
const INCLUDE = /^\s*include creditdesk\.d\/\*\.conf;$/m;

/** Compose interpolation for the test: ${VAR:-default} → default, ${VAR:?msg} → `given[VAR]`. */
const interpolate = (v: string, given: Record<string, string>) =>
  v.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*)|:?\?[^}]*)?\}/g, (_m, name: string, def?: string) => given[name] ?? def ?? '');
const SECRET = 'compose-test-secret-0123456789abcdef0123456789';
const GIVEN = { SESSION_SECRETS: SECRET, PAYMENT_GATEWAY_URL: 'https://gateway.example/v1', BUREAU_URL: 'https://bureau.example' };

/** deploy/secrets.sh run once into a temp dir: what compose would read from deploy/secrets/. */
const secretsDir = join(mkdtempSync(join(tmpdir(), 'creditdesk-compose-secrets-')), 'secrets');
execFileSync('sh', [root('deploy/secrets.sh'), secretsDir], { stdio: 'ignore' });
after(() => rmSync(join(secretsDir, '..'), { recursive: true, force: true }));
/** A compose secret's or env file's path (relative to the project) in the generated temp dir. */
const generated = (path: string) => join(secretsDir, path.replace(/^\.\/?/, '').replace(/^deploy\/secrets\//, ''));
const envFile = (path: string) =>
  Object.fromEntries(
    readFileSync(generated(path), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
/** A service's environment as its container sees it: env files, then `environment`, interpolated. */
const containerEnv = (s: Service, given: Record<string, string> = GIVEN) => ({
  ...Object.assign({}, ...(s.env_file ?? []).map(envFile)),
  ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), given)])),
});
const schemaOf = (n: string) => (n.startsWith('api-') ? serverSchema : n.startsWith('worker-') ? workerSchema : migrateSchema);

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
      assert.match(services[n]!.image!, /^mongo:\d+\.\d+\.\d+$/);
      assert.deepEqual(services[n]!.command, [
        'mongod',
        '--replSet',
        'rs0',
        '--bind_ip_all',
        '--port',
        '27017',
        '--keyFile',
        '/tmp/mongo-keyfile',
        '--wiredTigerCacheSizeGB',
        '0.5',
      ]);
      assert.ok(
        services[n]!.volumes?.some((v) => v.endsWith(':/data/db')),
        `${n} keeps its data in a volume`,
      );
    }
  });

  test('MongoDB runs with keyfile auth; mongo-init creates least-privilege users; each app service connects as its own user', () => {
    for (const n of ['mongo-1', 'mongo-2', 'mongo-3']) {
      const m = services[n]!;
      assert.deepEqual(m.secrets, ['mongo_keyfile']);
      // The keyfile secret is copied 0400, owned by mongodb, to where --keyFile points, then the image's entrypoint runs mongod.
      const entry = m.entrypoint!.join(' ');
      assert.match(
        entry,
        /install -m 0400 -o mongodb -g mongodb \/run\/secrets\/mongo_keyfile \/tmp\/mongo-keyfile && exec docker-entrypoint\.sh "\$\$@"/,
      ); // compose turns $$ into $
      assert.ok(m.tmpfs?.some((t) => t.startsWith('/tmp')));
    }
    const init = services['mongo-init']!;
    assert.equal(init.network_mode, 'service:mongo-1', "on mongo-1's loopback: the localhost exception creates the first user");
    assert.equal(init.build, '.');
    const cmd = init.command as string[];
    assert.deepEqual(cmd.slice(0, 2), ['node', 'dist/scripts/mongod/init-cluster.js']);
    assert.ok(existsSync(root('scripts/mongod/init-cluster.ts')));
    assert.equal(cmd[cmd.indexOf('--members') + 1], MONGO_HOSTS);
    assert.equal(cmd[cmd.indexOf('--secrets') + 1], '/run/secrets');
    assert.deepEqual(init.secrets, ['mongo_admin_password', 'mongo_migrator_password', 'mongo_api_password', 'mongo_worker_password']);

    // Every compose secret is a file deploy/secrets.sh makes; the passwords are what mongo-init reads.
    for (const [name, { file }] of Object.entries(compose.secrets)) {
      assert.match(file!, /^\.\/deploy\/secrets\//, name);
      assert.ok(existsSync(generated(file!)), `deploy/secrets.sh makes ${file}`);
    }
    const users = usersFromSecrets(secretsDir);
    const mode = (p: string) => statSync(join(secretsDir, p)).mode & 0o777;
    assert.equal(statSync(secretsDir).mode & 0o777, 0o700);
    for (const f of ['mongo-keyfile', 'api.env', 'worker.env', 'migrator.env', 'tls/key.pem']) assert.equal(mode(f), 0o600, f);

    // The role each service connects as: its env file's MONGO_URI names that user, on the replica set.
    const roleOf = (n: string) => (n.startsWith('api-') ? 'api' : n.startsWith('worker-') ? 'worker' : 'migrator');
    for (const [n, s] of appServices) {
      const role = roleOf(n);
      assert.deepEqual(s.env_file, [`deploy/secrets/${role}.env`], n);
      assert.equal(s.environment?.MONGO_URI, undefined, `${n}: no MONGO_URI in the compose file itself`);
      // A multi-host URI is not a WHATWG URL: split it by hand.
      const [, user, password, hosts, query] = /^mongodb:\/\/([^:@]+):([^@]+)@([^/]+)\/\?(.*)$/.exec(containerEnv(s).MONGO_URI) ?? [];
      assert.equal(hosts, MONGO_HOSTS, n);
      const params = new URLSearchParams(query);
      assert.equal(params.get('replicaSet'), 'rs0');
      assert.equal(params.get('authSource'), 'admin');
      assert.equal(decodeURIComponent(user ?? ''), users[role].user, n);
      assert.equal(decodeURIComponent(password ?? ''), users[role].password, n);
    }
    // Least privilege: only the admin (mongo-init) has more than its application database.
    assert.deepEqual(rolesFor('api', 'creditdesk'), [{ role: 'readWrite', db: 'creditdesk' }]);
    assert.deepEqual(rolesFor('worker', 'creditdesk'), [{ role: 'readWrite', db: 'creditdesk' }]);
    assert.deepEqual(rolesFor('migrator', 'creditdesk'), [
      { role: 'readWrite', db: 'creditdesk' },
      { role: 'dbAdmin', db: 'creditdesk' },
    ]);
  });

  test('the image holds no credentials: .dockerignore excludes DATA_DIR, deploy/ (secrets), .env files and keys', () => {
    const ignored = readFileSync(root('.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['.data', 'deploy', '.env', '.env.*', '**/mongo-auth', '**/*.pem', '**/*.key', '**/secrets'])
      assert.ok(ignored.includes(p), p);
    assert.ok(ignored.includes('!.env.example'));
    assert.doesNotMatch(dockerfile, /^COPY (\.|deploy|\.data)\b/m, 'the Dockerfile copies named source folders only');
  });

  test('pinned images, separate networks, memory limits, read-only root filesystems', () => {
    const pinned = /^[a-z0-9/_-]+:v?\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/;
    for (const [n, s] of Object.entries(services)) if (!s.build) assert.match(s.image ?? '', pinned, `${n} pins its image`);
    assert.match(dockerfile.match(/^ARG NODE_IMAGE=(\S+)$/m)?.[1] ?? '', pinned, 'the Dockerfile pins Node');

    const networksOf = (s: Service) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));
    assert.equal(compose.networks.back?.internal, true, 'back has no route out');
    assert.deepEqual(services.nginx!.networks, ['front', 'back']);
    for (const [n, s] of Object.entries(services)) {
      if (n === 'nginx') continue;
      assert.ok(!networksOf(s).includes('front'), `${n} is not on the front network`);
      if (n.startsWith('mongo-') && n !== 'mongo-init') assert.deepEqual(s.networks, ['back'], n);
    }
    assert.deepEqual(
      services['worker-disbursement']!.networks,
      ['back', 'egress'],
      'only the disbursement worker reaches out (the gateway)',
    );
    for (const [n, s] of appServices) if (n !== 'worker-disbursement') assert.deepEqual(s.networks, ['back'], n);
    // Prometheus scrapes on back from the one address the API lets read /metrics; its UI is on `ops`.
    assert.deepEqual(networksOf(services.prometheus!).sort(), ['back', 'ops']);
    const promAddress = (services.prometheus!.networks as Record<string, { ipv4_address?: string }>).back?.ipv4_address;
    assert.ok(promAddress, 'prometheus has a fixed address on back');
    for (const n of apis)
      assert.ok(String(services[n]!.environment?.INTERNAL_NETWORKS).includes(`${promAddress}/32`), `${n} lets prometheus read /metrics`);
    assert.deepEqual(
      services.prometheus!.volumes?.filter((v) => v.startsWith('./deploy/prometheus/')),
      [
        './deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
        './deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
      ],
    );

    for (const [n, s] of Object.entries(services)) {
      assert.match(s.mem_limit ?? '', /^\d+[mg]$/, `${n} has a memory limit`);
      assert.equal(s.read_only, true, `${n} has a read-only root filesystem`);
    }
    for (const [n, s] of appServices)
      assert.ok(
        s.tmpfs?.some((t) => t.startsWith('/tmp:')),
        `${n}: /tmp on tmpfs`,
      );
    for (const d of ['/var/cache/nginx', '/var/run'])
      assert.ok(
        services.nginx!.tmpfs?.some((t) => t.startsWith(d)),
        `nginx: ${d} on tmpfs`,
      );
  });

  test('production fails closed without an https payment gateway', () => {
    const s = services['worker-disbursement']!;
    assert.match(s.environment!.PAYMENT_GATEWAY_URL!, /^\$\{PAYMENT_GATEWAY_URL:\?/, 'compose refuses to start without one');
    assert.equal(s.environment!.NODE_ENV, 'production');
    assert.doesNotThrow(() => parseEnv(workerSchema, containerEnv(s)));
    for (const url of ['http://gateway.example/v1', ''])
      assert.throws(
        () => parseEnv(workerSchema, containerEnv(s, { ...GIVEN, PAYMENT_GATEWAY_URL: url })),
        /PAYMENT_GATEWAY_URL must be an https:\/\//,
      );
  });

  test('production approval needs a credit bureau unless deciding without one is declared', () => {
    const s = services['worker-approval']!;
    assert.match(s.environment!.BUREAU_URL!, /^\$\{BUREAU_URL\?/, 'compose refuses to start with BUREAU_URL unset');
    assert.equal(s.environment!.NODE_ENV, 'production');
    assert.equal(parseEnv(workerSchema, containerEnv(s)).BUREAU_URL, 'https://bureau.example');
    assert.throws(() => parseEnv(workerSchema, containerEnv(s, { ...GIVEN, BUREAU_URL: '' })), /BUREAU_URL must be the credit bureau URL/);
    const declared = parseEnv(workerSchema, containerEnv(s, { ...GIVEN, BUREAU_URL: '', APPROVAL_WITHOUT_BUREAU: 'true' }));
    assert.equal(declared.APPROVAL_WITHOUT_BUREAU, true);
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
      const env = containerEnv(s);
      for (const k of Object.keys(env)) assert.ok(known(k), `${n}: ${k} is not in lib/config.ts or .env.example`);
      assert.doesNotThrow(() => parseEnv(schemaOf(n), env), `${n}: its environment passes its config schema`);
    }
    for (const n of apis) {
      const cfg = parseEnv(serverSchema, containerEnv(services[n]!));
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
    assert.equal(directive(tlsConf, 'listen'), '8443 ssl');
    assert.deepEqual(services.nginx!.ports, ['80:8080', '443:8443']);
    assert.ok(services.nginx!.volumes?.includes('./nginx.conf:/etc/nginx/nginx.conf:ro'));
  });

  test('TLS at the edge: certificate and key from secrets, HTTP redirects to HTTPS, HSTS, the scheme passed on', () => {
    assert.ok(services.nginx!.volumes?.includes('./deploy/nginx/tls.conf:/etc/nginx/creditdesk.d/tls.conf:ro'));
    assert.deepEqual(services.nginx!.secrets, ['tls_cert', 'tls_key']);
    assert.equal(directive(tlsConf, 'ssl_certificate'), '/run/secrets/tls_cert');
    assert.equal(directive(tlsConf, 'ssl_certificate_key'), '/run/secrets/tls_key');
    assert.equal(directive(tlsConf, 'ssl_protocols'), 'TLSv1.2 TLSv1.3');
    assert.match(tlsConf, /^add_header Strict-Transport-Security "max-age=(\d+); includeSubDomains" always;$/m);
    assert.ok(Number(tlsConf.match(/max-age=(\d+)/)![1]) >= 31_536_000, 'HSTS for at least a year');
    assert.match(tlsConf, /^if \(\$creditdesk_redirect = http\) \{\n\s+return 308 https:\/\/\$host\$request_uri;/m);
    // The API learns the scheme from the one proxy it trusts, and marks cookies Secure behind TLS.
    assert.match(nginxConf, /proxy_set_header X-Forwarded-Proto \$scheme;/);
    for (const n of apis) assert.equal(services[n]!.environment!.TRUST_PROXY_HOPS, '1');
    // The nginx healthcheck asks over loopback, which the redirect exempts.
    assert.match(services.nginx!.healthcheck!.test!.join(' '), /http:\/\/127\.0\.0\.1:8080\/nginx-health/);
    assert.match(tlsConf, /^if \(\$remote_addr = 127\.0\.0\.1\) \{/m);
  });

  test('nginx.conf includes creditdesk.d/*.conf in its server block (where compose mounts the TLS settings)', () => {
    assert.ok(INCLUDE.test(nginxConf), 'nginx.conf: `include creditdesk.d/*.conf;` in the server block');
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
    assert.deepEqual(
      retry.split(/\s+/),
      ['error', 'timeout', 'http_502'],
      'never on 503: a shared cause, and nginx would take healthy instances out',
    );
    assert.doesNotMatch(nginxConf, /^\s*proxy_next_upstream[^;]*non_idempotent/m);
    // The largest body nginx lets through (the document upload location) covers the API's upload limit.
    const bytes = (v: string) => Number(v.replace(/[km]$/, '')) * (v.endsWith('m') ? 1024 * 1024 : v.endsWith('k') ? 1024 : 1);
    const bodies = [...nginxConf.matchAll(/client_max_body_size (\S+);/g)].map((m) => bytes(m[1]!));
    assert.ok(Math.max(...bodies) >= defaults.UPLOAD_LIMIT_BYTES, String(bodies));
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

  test('nginx -t accepts the compose file with its TLS server (a throwaway self-signed certificate)', () => {
    const composeVariant = nginxConf.replace(/\bserver (api-\d+):3000/g, 'server 127.0.0.1:3000');
    const out = nginxSyntaxCheck((runDir) => {
      // What compose mounts: tls.conf in creditdesk.d/ beside nginx.conf, the secrets as files.
      const cert = join(runDir, 'tls_cert');
      const key = join(runDir, 'tls_key');
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert],
        {
          stdio: 'ignore',
        },
      );
      mkdirSync(join(runDir, 'creditdesk.d'));
      writeFileSync(
        join(runDir, 'creditdesk.d', 'tls.conf'),
        tlsConf.replace('/run/secrets/tls_cert', cert).replace('/run/secrets/tls_key', key),
      );
      assert.match(composeVariant, INCLUDE);
      return withTempPaths(composeVariant, runDir);
    });
    assert.match(out, /test is successful/);
  });
});
