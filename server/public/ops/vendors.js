// The Queues view's vendor breakers and stuck applications, for admins (GET /api/admin/vendors and
// GET /api/admin/reconciliation are admin routes): each vendor's shared breaker (state, since when,
// the window's calls/failures, its rate and retry settings) with Force open / Force close (confirm
// dialog, audited by the API); the reconciler's lease holder and its last run (stuck counts per
// status, actions, each step). Reviewers see the breakers from the snapshot stream, read-only.
import { $, age, api, button, cell, confirmAction, isAdmin, problemText, when } from './api.js';

const message = (text) => {
  $('#vendors-message').textContent = text;
};

function row(...cells) {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

function emptyRow(span, text) {
  const td = cell(text, 'muted');
  td.colSpan = span;
  return row(td);
}

async function force(vendor, state) {
  const ok = await confirmAction(
    state === 'open'
      ? `Force the ${vendor} breaker open? Every worker stops calling ${vendor} within its breaker cache, until someone forces it closed.`
      : `Force the ${vendor} breaker closed? Workers call ${vendor} again (a fresh failure window).`,
    state === 'open' ? 'Force open' : 'Force close',
  );
  if (!ok) return;
  const r = await api(`/api/admin/vendors/${encodeURIComponent(vendor)}/breaker`, { method: 'POST', body: { state } });
  if (!r.ok) return message(`force ${state} ${vendor} failed (${problemText(r)})`);
  message(`${vendor} breaker forced ${state} (generation ${r.body.breaker.generation})`);
  await refreshVendors();
}

/** Admins: the breakers table from GET /api/admin/vendors, with the force buttons. */
export async function refreshVendors() {
  if (!isAdmin()) return;
  const r = await api('/api/admin/vendors');
  if (!r.ok) return message(`vendors: ${problemText(r)}`);
  $('#breakers tbody').replaceChildren(
    ...r.body.vendors.map((v) => {
      const b = v.breaker;
      const since = b.openSince ?? b.halfOpenSince ?? b.changedAt;
      const tr = row(
        cell(v.vendor),
        cell(b.state.replace('_', '-'), b.state === 'closed' ? '' : 'alert-text'),
        cell(b.forced ? 'yes' : 'no'),
        cell(when(since)),
        cell(`${b.calls} calls, ${b.failures} failed`),
        cell(`${v.limits.ratePerSecond}/s, ${v.limits.maxAttempts} attempts, ${v.limits.timeoutMs} ms timeout`),
      );
      tr.dataset.vendor = v.vendor;
      tr.dataset.state = b.state;
      const td = document.createElement('td');
      if (!(b.state === 'open' && b.forced))
        td.append(button('Force open', () => force(v.vendor, 'open'), { danger: true, name: `force open ${v.vendor}` }));
      if (b.state !== 'closed') td.append(button('Force close', () => force(v.vendor, 'closed'), { name: `force close ${v.vendor}` }));
      tr.append(td);
      return tr;
    }),
  );
}

/** Admins: the reconciler's lease holder and its last run. */
export async function refreshStuck() {
  if (!isAdmin()) return;
  const r = await api('/api/admin/reconciliation?limit=1');
  if (!r.ok) return;
  const { holder, runs } = r.body;
  $('#reconciler-holder').textContent = holder
    ? `Reconciler lease held by ${holder.owner} (fence ${holder.fence}) until ${when(holder.expiresAt)}`
    : 'No worker holds the reconciler lease (is a disbursement worker running with RECONCILE_ENABLED?)';
  const run = runs[0];
  if (!run) {
    $('#reconciler-run').textContent = 'No reconciliation run yet.';
    $('#stuck tbody').replaceChildren(emptyRow(5, 'no run yet'));
    return;
  }
  const stuck = Object.entries(run.stuck).map(([s, n]) => `${s} ${n}`);
  const done = Object.entries(run.counts)
    .filter(([, n]) => n > 0)
    .map(([a, n]) => `${a} ${n}`);
  $('#reconciler-run').textContent =
    `Last run ${when(run.finishedAt)} by ${run.owner}${run.interrupted ? ' (interrupted)' : ''}: ` +
    `stuck ${stuck.join(', ') || 'none'}; actions ${done.join(', ') || 'none'}`;
  $('#stuck tbody').replaceChildren(
    ...(run.steps.length
      ? run.steps.map((s) => row(cell(s.applicationId), cell(s.status), cell(age(s.stuckForS * 1000)), cell(s.action), cell(s.reason)))
      : [emptyRow(5, 'nothing was stuck')]),
  );
}
