// TLS at the edge as compose runs it: real nginx with the canonical nginx.conf (rendered for local
// processes) plus deploy/nginx/tls.conf in its server block and a throwaway self-signed
// certificate, in front of the real API. Plain HTTP is redirected to HTTPS (loopback excepted, for
// the container's healthcheck), HTTPS answers carry one HSTS header, and the API sees the scheme:
// its session cookie is Secure over HTTPS.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { nginxArgs, resolveNginx, testConf, writeLocalConf } from '../../scripts/nginx/nginx.js';
import { PROJECT_ROOT } from '../../scripts/mongod/resolve.js';
import { fixture } from '../helpers/fixture.js';
import { freePorts } from '../helpers/stack.js';

const f = fixture('edge-tls', { api: true });
let httpUrl = '';
let httpsUrl = '';
let ca = '';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}
/** One request; HTTPS trusts the test's certificate; `localAddress` picks the client's source address. */
function send(url: string, o: { method?: string; body?: unknown; localAddress?: string } = {}): Promise<Answer> {
  const u = new URL(url);
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  const opts = {
    method: o.method ?? 'GET',
    headers: { host: 'localhost', ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  };
  return new Promise((resolve, reject) => {
    const done = (res: import('node:http').IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    };
    const req = u.protocol === 'https:' ? httpsRequest(u, { ...opts, ca, servername: 'localhost' }, done) : httpRequest(u, opts, done);
    req.setTimeout(10_000, () => req.destroy(new Error(`${url}: no answer within 10 s`)));
    req.once('error', reject);
    req.end(body);
  });
}

f.before(async () => {
  const [httpPort, httpsPort] = await freePorts(2);
  const runDir = join(f.procs.dir, 'nginx');
  mkdirSync(join(runDir, 'creditdesk.d'), { recursive: true });
  const cert = join(runDir, 'tls_cert');
  const key = join(runDir, 'tls_key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  ca = readFileSync(cert, 'utf8');
  // What compose mounts, with this test's ports and certificate paths.
  const tls = readFileSync(join(PROJECT_ROOT, 'deploy/nginx/tls.conf'), 'utf8')
    .replace(/^listen 8443 ssl;$/m, `listen 127.0.0.1:${httpsPort} ssl;`)
    .replace('/run/secrets/tls_cert', cert)
    .replace('/run/secrets/tls_key', key);
  writeFileSync(join(runDir, 'creditdesk.d', 'tls.conf'), tls);
  const file = writeLocalConf({ upstreams: [new URL(f.api.url).host], listenPort: httpPort!, runDir });
  const conf = readFileSync(file, 'utf8');
  // Until nginx.conf carries `include creditdesk.d/*.conf;` in its server block, add it as it will be.
  if (!/^\s*include creditdesk\.d\/\*\.conf;$/m.test(conf))
    writeFileSync(
      file,
      conf.replace(/^(\s*)server_name _;\n/m, (m, sp: string) => `${m}${sp}include creditdesk.d/*.conf;\n`),
    );
  const bin = resolveNginx(() => {});
  testConf(bin, runDir, file);
  httpUrl = `http://127.0.0.1:${httpPort}`;
  httpsUrl = `https://127.0.0.1:${httpsPort}`;
  await f.procs.spawn('nginx', bin, nginxArgs(runDir, file), {}, { readyUrl: `${httpUrl}/nginx-health`, timeoutMs: 15_000 });
});

test('plain HTTP is redirected to HTTPS (308, same path); loopback still reaches /nginx-health (the healthcheck)', async () => {
  const r = await send(`${httpUrl}/api/auth/me?x=1`, { localAddress: '127.0.0.2' });
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, 'https://localhost/api/auth/me?x=1');
  const post = await send(`${httpUrl}/api/auth/login`, { method: 'POST', body: {}, localAddress: '127.0.0.2' });
  assert.equal(post.status, 308, 'a POST is redirected too, never served in clear text');
  assert.equal((await send(`${httpUrl}/nginx-health`)).status, 200);
});

test('HTTPS: one HSTS header on every answer; the API sees https and sets a Secure session cookie', async () => {
  const health = await send(`${httpsUrl}/health`);
  assert.equal(health.status, 200);
  assert.equal(health.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
  assert.equal((await send(`${httpsUrl}/nginx-health`)).headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');

  const user = await f.user('viewer');
  const login = await send(`${httpsUrl}/api/auth/login`, { method: 'POST', body: { email: user.email, password: user.password } });
  assert.equal(login.status, 200, login.body);
  const cookie = (login.headers['set-cookie'] ?? []).join('\n');
  assert.match(cookie, /;\s*Secure/i, `Secure over HTTPS: ${cookie}`);

  // The same login in clear text (loopback, which is not redirected): the API sees http, no Secure.
  const plain = await send(`${httpUrl}/api/auth/login`, { method: 'POST', body: { email: user.email, password: user.password } });
  assert.equal(plain.status, 200, plain.body);
  assert.doesNotMatch((plain.headers['set-cookie'] ?? []).join('\n'), /;\s*Secure/i);
});
