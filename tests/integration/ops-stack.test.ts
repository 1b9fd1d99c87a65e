// The console's series stream through real nginx in front of two API processes: it is served
// through the proxy unbuffered, and when both instances are killed (-9) and restarted by the
// supervisor, a reconnect gets the whole window again from MongoDB — nothing counted was lost
// with the processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RESTART_POLICY } from '../../scripts/stack/supervisor.js';
import type { SeriesPoint } from '../../lib/metrics/series-reader.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { asPartner, loanRequest, testPartner } from '../helpers/partners.js';
import { openSse, type SseStream } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('opsstack', { stack: { instances: 2, restart: DEFAULT_RESTART_POLICY, env: { CONSOLE_SERIES_ENABLED: 'true' } } });
const streams: SseStream[] = [];
f.after(() => {
  for (const s of streams) s.close();
});

/** The accepted intake total of what a stream sent: its window, then its points (a re-sent bucket replaces the old one). */
function accepted(s: SseStream): number {
  const seconds = new Map<number, SeriesPoint>();
  for (const e of s.events) {
    const d = JSON.parse(e.data) as { s: SeriesPoint[] };
    if (e.event === 'window') seconds.clear();
    for (const p of d.s) seconds.set(p.t, p);
  }
  return [...seconds.values()].reduce((n, p) => n + p.intake.accepted, 0);
}

async function series(admin: Client): Promise<SseStream> {
  const s = await waitFor('the series stream through nginx', async () => {
    const r = await openSse(`${f.url}/api/admin/ops/series`, { cookie: admin.cookie });
    return r.stream ?? null;
  });
  streams.push(s);
  return s;
}

test('through nginx, the series stream resends the whole window after both instances were killed and restarted', async () => {
  const admin = await f.client('admin');
  const partner = await testPartner(admin);
  const first = await series(admin);
  for (let i = 0; i < 6; i++) assert.equal((await asPartner(f.url, partner.key, 'POST', '/api/loan/request', loanRequest())).status, 202);
  await waitFor('the stream to show 6 accepted', () => accepted(first) === 6);

  const pids = f.stack.apis.map((a) => a.child.pid!);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  await waitFor('the stream to end with its instance', () => first.ended);
  await waitFor('both instances restarted', () =>
    f.stack.apis.every((a) => a.child.state === 'up' && a.child.pid !== undefined && !pids.includes(a.child.pid)),
  );

  const again = await series(admin);
  const [window] = await waitFor('the reconnected stream to send its window', () =>
    again.json('window').length ? again.json('window') : null,
  );
  const inWindow = (window as { s: SeriesPoint[] }).s.reduce((n, p) => n + p.intake.accepted, 0);
  assert.equal(inWindow, 6, 'the window on reconnect holds the counts: they survived both processes');
});
