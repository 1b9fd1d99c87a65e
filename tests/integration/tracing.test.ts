// One trace from the partner's request to the payment, across real processes: two API instances
// behind nginx and three worker processes (OCR, approval, disbursement), writing their spans to
// files (OTEL_TRACES_FILE, lib/tracing.ts). The partner sends its own `traceparent` with
// the loan request and with the document it adds later (one client operation, one trace): nginx
// passes it through, the API continues it, the events carry it to every worker, and the payment
// gateway call carries it on. The trace id is in the log lines of every process.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderDocument } from '../fixtures/documents/render.js';
import type { Gateway } from '../helpers/app-processes.js';
import { fixture } from '../helpers/fixture.js';
import { asPartner, loanRequest, testPartner, type TestPartner } from '../helpers/partners.js';
import type { Proc } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/** One line of the file exporter. */
interface SpanLine {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  service: string;
  attributes: Record<string, unknown>;
}

/** The span files: the API instances share one (appends of whole lines), each worker has its own. */
const dir = mkdtempSync(join(tmpdir(), 'creditdesk-tracing-'));
const spansFile = (name: string) => join(dir, `spans-${name}.jsonl`);
const f = fixture('tracing', { stack: { instances: 2, env: { OTEL_TRACES_FILE: spansFile('api') } } });
let partner: TestPartner;
let gw: Gateway;
let workers: Record<'ocr' | 'approval' | 'disbursement', Proc>;
let proxy: Server;
/** traceparent headers the payment gateway received (through a pass-through in front of it). */
const gatewaySaw: string[] = [];

/** The spans a process exported so far. */
function spans(name: string): SpanLine[] {
  let text = '';
  try {
    text = readFileSync(spansFile(name), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SpanLine);
}

/** Records each request's traceparent and forwards it to the real gateway simulator. */
function recordingProxy(target: string): Promise<string> {
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const tp = req.headers.traceparent;
    if (typeof tp === 'string') gatewaySaw.push(tp);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const r = await fetch(new URL(req.url ?? '/', target), { method: req.method ?? 'GET', headers, ...(body ? { body } : {}) });
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await r.arrayBuffer()));
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`)));
}

f.before(async () => {
  f.after(() => rmSync(dir, { recursive: true, force: true }));
  const admin = await f.client('admin');
  partner = await testPartner(admin, 'traced-lender', 50);
  gw = await f.gateway();
  const gatewayUrl = await recordingProxy(gw.url);
  f.after(() => new Promise<void>((r) => proxy.close(() => r())));
  const env = (name: string) => ({ OTEL_TRACES_FILE: spansFile(name), LOG_LEVEL: 'debug' });
  workers = {
    ocr: await f.worker('ocr', env('ocr')),
    approval: await f.worker('approval', env('approval')),
    disbursement: await f.worker('disbursement', { ...env('disbursement'), PAYMENT_GATEWAY_URL: gatewayUrl }),
  };
});

const died = () => f.procs.died();
/** A client-side span: the partner's own trace, as its system would send it. */
const clientTrace = () => ({ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') });
const traceparent = (t: { traceId: string; spanId: string }) => `00-${t.traceId}-${t.spanId}-01`;

test('one application from nginx through OCR, approval and disbursement is ONE trace across five processes', async () => {
  const client = clientTrace();
  const headers = { traceparent: traceparent(client) };
  // The income the rendered document states (a mismatch would send it to review).
  const submitted = await asPartner(
    f.url,
    partner.key,
    'POST',
    '/api/loan/request',
    loanRequest({ creditScore: 720, income: 90_000 }),
    headers,
  );
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const id = submitted.body.id as string;
  await waitFor(
    'the approval worker to send it to review (no document yet)',
    async () => (await f.t.c.applications.findOne({ _id: id }))?.status === 'pending_review',
    { died },
  );
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(await renderDocument())], { type: 'image/png' }), 'payslip.png');
  const up = await fetch(`${f.url}/api/loan/request/${id}/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${partner.key}`, ...headers },
    body: form,
  });
  assert.equal(up.status, 201, await up.text());
  const app = await waitFor(
    'the application to be disbursed',
    async () => {
      const d = await f.t.c.applications.findOne({ _id: id });
      return d && ['disbursed', 'rejected', 'failed'].includes(d.status) ? d : null;
    },
    { timeoutMs: 90_000, died },
  );
  assert.equal(app.status, 'disbursed');

  // Every process's spans of this trace (the disbursement span ends after its completion write).
  const of = (name: string) => spans(name).filter((s) => s.traceId === client.traceId);
  const disbursement = await waitFor(
    'the disbursement span',
    () => {
      const s = of('disbursement');
      return s.some((x) => x.name === 'process disbursement.requested') ? s : null;
    },
    { died },
  );
  const api = of('api');
  const [ocr, approval] = [of('ocr'), of('approval')];

  // The API continued the partner's trace: both requests are children of the client's span.
  const intake = api.find((s) => s.name === 'POST /api/loan/request');
  const upload = api.find((s) => s.name === 'POST /api/loan/request/:id/documents');
  assert.ok(intake && upload, `API spans: ${api.map((s) => s.name).join(', ')}`);
  for (const s of [intake, upload]) {
    assert.equal(s.parentSpanId, client.spanId, `${s.name} continues the traceparent nginx passed through`);
    assert.deepEqual([s.kind, s.service], ['SERVER', 'creditdesk-api']);
  }

  // Each worker continued the trace from the event that the previous step published.
  const one = (list: SpanLine[], name: string, parent: SpanLine) => {
    const s = list.find((x) => x.name === name && x.parentSpanId === parent.spanId);
    assert.ok(s, `${name} as a child of ${parent.name}; got ${list.map((x) => `${x.name}<-${x.parentSpanId}`).join(', ')}`);
    assert.deepEqual([s.kind, s.service], ['CONSUMER', 'creditdesk-worker']);
    return s;
  };
  one(approval, 'process approval.requested', intake); // the first decision: review, no document
  const ocrRun = one(ocr, 'process ocr.requested', upload);
  const approved = one(approval, 'process approval.requested', ocrRun);
  const paying = one(disbursement, 'process disbursement.requested', approved);

  // The payment call is a CLIENT span of the disbursement, and the gateway received its traceparent.
  // (The disbursement may make more than one outbound call, e.g. an attempt and a lookup by key:
  // the gateway must have seen the traceparent of one of them.)
  const calls = disbursement.filter((s) => s.kind === 'CLIENT' && s.parentSpanId === paying.spanId);
  assert.ok(calls.length > 0, `a gateway call span under the disbursement; got ${disbursement.map((s) => s.name).join(', ')}`);
  const call = calls.find((c) => gatewaySaw.includes(`00-${client.traceId}-${c.spanId}-01`));
  assert.ok(
    call,
    `the gateway saw ${gatewaySaw.join(', ')}; call spans ${calls.map((c) => `${c.name} ${c.spanId}`).join(', ')} of trace ${client.traceId}`,
  );

  // The trace id is in the log lines of every process: the API instance that served a request
  // (pino-http's line and the request's own lines), and each worker (lines logged in the span).
  const apiLogs = f.stack.apis.map((a) => readFileSync(a.child.logFile, 'utf8')).join('\n');
  assert.match(apiLogs, new RegExp(`"traceId":"${client.traceId}"`), 'an API log line carries the trace id');
  for (const [role, w] of Object.entries(workers)) {
    // Waited for: the worker may write its line after the span file has the span.
    const line = await waitFor(
      `a ${role} worker log line carrying the trace id`,
      () =>
        w
          .output()
          .split('\n')
          .find((l) => l.includes(`"traceId":"${client.traceId}"`)),
      { died },
    );
    assert.match(line, /"requestId":"[^"]+"/, `the ${role} line carries the request id too`);
  }
});

test('a request without traceparent starts a new trace at the API, named by its request id', async () => {
  const r = await asPartner(f.url, partner.key, 'GET', '/api/loan/request/LOAN-none');
  const requestId = r.headers.get('x-request-id');
  assert.ok(requestId, 'nginx gave the request an id');
  const span = await waitFor('the request span', () => spans('api').find((s) => s.attributes['http.request_id'] === requestId) ?? null, {
    died,
  });
  assert.equal(span.parentSpanId, undefined, 'a root span: no parent');
  assert.match(span.traceId, /^[0-9a-f]{32}$/);
  assert.notEqual(span.traceId, '0'.repeat(32));
});
