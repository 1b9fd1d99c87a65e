// MongoDB command spans (lib/tracing.ts traceCommands) on a real mongod: with tracing initialised
// in this test process (its own process: node:test runs each file in one) and a span exporter,
// a command issued inside a trace is a CLIENT span, child of the active span, named after the
// command and collection; a command outside any trace makes no span.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MongoClient } from 'mongodb';
import { inEventSpan, initTracing, traceCommands } from '../../lib/tracing.js';
import { fixture } from '../helpers/fixture.js';

interface SpanLine {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  attributes: Record<string, unknown>;
}

const dir = mkdtempSync(join(tmpdir(), 'creditdesk-tracing-mongo-'));
const file = join(dir, 'spans.jsonl');
initTracing({ service: 'creditdesk-test', instance: 'tracing-mongo', tracesFile: file });

const f = fixture('tracing-mongo');
let client: MongoClient;

f.before(async () => {
  client = new MongoClient(f.t.uri);
  traceCommands(client);
  await client.connect();
  f.after(async () => {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

const spans = (): SpanLine[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SpanLine);

test('commands inside a span are its CLIENT children; commands outside any trace make none', async () => {
  const probe = client.db(f.t.dbName).collection<{ _id: number }>('trace_probe');
  await probe.findOne({ _id: 0 }); // outside any trace
  await inEventSpan({ _id: 'probe-event', type: 'probe.requested', attempts: 1 }, async () => {
    await probe.insertOne({ _id: 1 });
    return probe.findOne({ _id: 1 });
  });
  const all = spans();
  const parent = all.find((s) => s.name === 'process probe.requested');
  assert.ok(parent, 'the event span');
  const children = all.filter((s) => s.parentSpanId === parent.spanId);
  assert.deepEqual(
    children.map((s) => [s.name, s.kind, s.traceId === parent.traceId, s.attributes['db.collection.name']]),
    [
      ['mongodb insert trace_probe', 'CLIENT', true, 'trace_probe'],
      ['mongodb find trace_probe', 'CLIENT', true, 'trace_probe'],
    ],
  );
  assert.equal(all.filter((s) => s.name.startsWith('mongodb')).length, 2, 'no span for the command outside a trace');
});
