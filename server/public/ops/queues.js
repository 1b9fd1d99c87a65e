// The Queues view: intake pause, queue figures per type with pause/resume (who paused, when),
// vendor breakers (admins: vendors.js), held locks and applications by status, from the snapshot stream.
import { $, age, api, applyRole, button, cell, confirmAction, isAdmin, problemText, when } from './api.js';

/** The intake pause as last shown (from the snapshot stream or the answer to our own pause/resume). */
let intakePaused = false;
const setMessage = (text) => {
  const s = $('#status');
  s.textContent = text;
  s.className = 'down';
};

const card = (label, value, alert = false) => {
  const d = document.createElement('div');
  d.className = `card${alert ? ' alert' : ''}`;
  d.dataset.label = label;
  const b = document.createElement('b');
  b.textContent = String(value);
  d.append(b, label);
  return d;
};

async function control(type, action) {
  const r = await api(`/api/admin/queues/${encodeURIComponent(type)}/${action}`, { method: 'POST', body: {} });
  if (!r.ok) setMessage(`${action} ${type} failed (${problemText(r)})`);
}

async function toggleIntake() {
  const pause = !intakePaused;
  const ok = await confirmAction(
    pause ? 'Pause partner intake? Every instance answers POST /api/loan/request with 503 within a second.' : 'Resume partner intake?',
    pause ? 'Pause intake' : 'Resume intake',
  );
  if (!ok) return;
  const r = await api(`/api/admin/intake/${pause ? 'pause' : 'resume'}`, { method: 'POST', body: {} });
  if (!r.ok) return setMessage(`intake ${pause ? 'pause' : 'resume'} failed (${problemText(r)})`);
  renderIntake(r.body);
}

function renderIntake(intake) {
  intakePaused = intake.paused;
  const text = intake.paused ? `Intake paused by ${intake.by ?? 'unknown'} since ${when(intake.since)}` : 'Intake running';
  $('#intake-state').textContent = text;
  $('#intake-state').className = intake.paused ? 'paused-text' : '';
  $('#intake-toggle').textContent = intake.paused ? 'Resume intake' : 'Pause intake';
  const badge = $('#intake-badge');
  badge.textContent = intake.paused ? 'intake paused' : 'intake running';
  badge.className = `badge ${intake.paused ? 'alert' : 'ok'}`;
}

export function renderSnapshot(s) {
  renderIntake(s.intake);
  const q = s.queue;
  $('#totals').replaceChildren(
    card('pending', q.pending),
    card('processing', q.processing),
    card('retrying', q.failed, q.failed > 0),
    card('dead', q.dead, q.dead > 0),
    card('completed', q.completed),
    card('recovered', q.recovered),
  );
  const controls = new Map(s.controls.map((c) => [c.type, c]));
  const types = [...new Set([...Object.keys(q.types), ...s.paused])].sort();
  $('#types tbody').replaceChildren(
    ...types.map((type) => {
      const t = q.types[type] ?? { pending: 0, processing: 0, failed: 0, dead: 0, completed: 0, oldestPendingAgeMs: 0, recovered: 0 };
      const c = controls.get(type);
      const paused = s.paused.includes(type);
      const tr = document.createElement('tr');
      tr.dataset.type = type;
      if (paused) tr.className = 'paused';
      tr.append(
        cell(type),
        cell(t.pending),
        cell(t.processing),
        cell(t.failed),
        cell(t.dead),
        cell(t.completed),
        cell(t.pending ? age(t.oldestPendingAgeMs) : '–'),
        cell(t.recovered),
        cell(paused ? `paused by ${c?.by ?? 'unknown'} at ${when(c?.at)}` : 'no'),
      );
      const td = document.createElement('td');
      if (isAdmin())
        td.append(
          button(paused ? 'resume' : 'pause', () => control(type, paused ? 'resume' : 'pause'), {
            name: `${paused ? 'resume' : 'pause'} ${type}`,
          }),
        );
      tr.append(td);
      return tr;
    }),
  );
  // Admins get the breakers with their window, limits and force buttons from GET /api/admin/vendors (vendors.js).
  if (!isAdmin())
    $('#breakers tbody').replaceChildren(
      ...(s.breakers.length
        ? s.breakers.map((b) => {
            const tr = document.createElement('tr');
            tr.dataset.vendor = b.vendor;
            tr.dataset.state = b.state;
            tr.append(
              cell(b.vendor),
              cell(b.state.replace('_', '-'), b.state === 'closed' ? '' : 'alert-text'),
              cell(b.forced ? 'yes' : 'no'),
              cell(when(b.changedAt)),
              cell('–', 'muted'),
              cell('–', 'muted'),
              cell(''),
            );
            return tr;
          })
        : [emptyRow(7, 'no vendor breakers yet')]),
    );
  $('#applications').replaceChildren(
    ...Object.entries(s.applications)
      .sort()
      .map(([k, v]) => card(k, v)),
  );
  $('#updated').textContent = new Date(s.at).toLocaleTimeString();
}

function emptyRow(span, text) {
  const tr = document.createElement('tr');
  const td = cell(text, 'muted');
  td.colSpan = span;
  tr.append(td);
  return tr;
}

export async function refreshLocks() {
  if (!isAdmin()) return;
  const r = await api('/api/admin/locks');
  if (!r.ok) return;
  $('#locks tbody').replaceChildren(
    ...(r.body.items.length
      ? r.body.items.map((l) => {
          const tr = document.createElement('tr');
          tr.append(cell(l.key), cell(l.owner), cell(l.fence), cell(when(l.expiresAt)));
          return tr;
        })
      : [emptyRow(4, 'no locks held')]),
  );
}

export function setupQueues() {
  $('#intake-toggle').addEventListener('click', toggleIntake);
  applyRole();
}
