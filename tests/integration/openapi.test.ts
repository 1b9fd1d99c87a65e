// The OpenAPI 3.1 document is generated from the mounted routes: every route is in it (and
// nothing else), it passes an OpenAPI 3.1 validator, its examples satisfy their schemas, and the
// docs page is served from this origin only. (Every JSON answer the other tests see is checked
// against it by tests/helpers/openapi.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { createApp } from '../../server/app.js';
import { mountedRoutes, openApiDocument, openApiPath } from '../../server/openapi/document.js';
import { fixture } from '../helpers/fixture.js';

const f = fixture('openapi', { api: true });
// biome-ignore lint/suspicious/noExplicitAny: the document is plain JSON read loosely here
type Json = any;
const served = async (): Promise<Json> => (await fetch(`${f.url}/api/openapi.json`)).json();

test('every mounted route has an operation spec, and the document lists exactly the mounted routes', async () => {
  const app = createApp(f.api.ctx);
  const { document, undocumented } = openApiDocument(app, { version: 'test' });
  assert.deepEqual(
    undocumented.map((r) => `${r.method.toUpperCase()} ${r.path}`),
    [],
    'routes registered without the route table (server/openapi/operation.ts)',
  );
  const mounted = [...new Set(mountedRoutes(app).map((r) => `${r.method} ${openApiPath(r.path)}`))].sort();
  const documented = Object.entries(document.paths as Record<string, Json>)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`))
    .sort();
  assert.deepEqual(documented, mounted);
  assert.ok(mounted.length >= 40, `${mounted.length} routes`);
  for (const must of ['post /api/loan/request', 'get /api/applications/{id}', 'post /api/auth/login', 'get /api/openapi.json']) {
    assert.ok(mounted.includes(must), must);
  }
});

test('the served document passes an OpenAPI 3.1 validator', async () => {
  const doc = await served();
  assert.equal(doc.openapi, '3.1.0');
  const result = await new Validator().validate(doc);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2)?.slice(0, 2000));
});

test('security: sessions (+ CSRF on unsafe methods), partner bearer keys; problem details on errors', async () => {
  const doc = await served();
  const put = doc.paths['/api/applications/{id}'].put;
  assert.deepEqual(put.security, [{ sessionCookie: [], csrfToken: [] }]);
  assert.deepEqual(doc.paths['/api/applications/{id}'].get.security, [{ sessionCookie: [] }]);
  assert.deepEqual(doc.paths['/api/loan/request'].post.security, [{ partnerKey: [] }]);
  assert.equal(put.responses['409'].content['application/problem+json'].schema.$ref, '#/components/schemas/Problem');
  assert.ok(doc.paths['/api/loan/request'].post.responses['429'], 'partner routes document the rate limit');
  assert.equal(doc.components.securitySchemes.partnerKey.scheme, 'bearer');
  const params = doc.paths['/api/applications'].get.parameters.map((p: Json) => `${p.in}:${p.name}:${p.required}`);
  assert.ok(params.includes('query:limit:false') && params.includes('query:status:false'), params.join(' '));
});

test('every example in the document satisfies its own schema', async () => {
  const app = createApp(f.api.ctx);
  let checked = 0;
  for (const { path, method, operation } of mountedRoutes(app)) {
    if (!operation) continue;
    if (operation.example !== undefined) {
      const r = operation.body?.safeParse(operation.example);
      assert.ok(r?.success, `${method} ${path}: request example: ${JSON.stringify(r?.error?.issues)}`);
      checked++;
    }
    for (const [status, res] of Object.entries(operation.responses)) {
      if (res.example === undefined || !res.schema) continue;
      const r = res.schema.safeParse(res.example);
      assert.ok(r.success, `${method} ${path} ${status}: response example: ${JSON.stringify(r.error?.issues)}`);
      checked++;
    }
  }
  assert.ok(checked >= 8, `${checked} examples checked`);
});

test('/api/docs serves Swagger UI from this origin only (no CDN, no validator badge)', async () => {
  const page = await fetch(`${f.url}/api/docs/`);
  assert.equal(page.status, 200);
  const html = await page.text();
  const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(urls.length >= 3);
  for (const u of urls) assert.ok(!/^[a-z]+:|^\/\//i.test(u), `${u} must be relative to this origin`);
  for (const u of urls) assert.equal((await fetch(new URL(u, `${f.url}/api/docs/`))).status, 200, u);
  const init = await (await fetch(`${f.url}/api/docs/init.js`)).text();
  assert.match(init, /validatorUrl: null/);
  assert.equal((await fetch(`${f.url}/api/docs`, { redirect: 'manual' })).status, 301);
});
