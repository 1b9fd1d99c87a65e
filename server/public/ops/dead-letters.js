// The Dead letters view (admins): dead letters newest first with every attempt's error; retry one,
// retry the shown filter, purge by type/age. Each action is confirmed; the server keeps the
// safeguards (an explicit filter or all: true; never a dead letter whose application is open).
import { $, api, button, cell, confirmAction, isAdmin, problemText, when } from './api.js';

const say = (t) => {
  $('#dead-message').textContent = t;
};
const typeFilter = () => String(new FormData($('#dead-filters')).get('type') ?? '').trim();

function attempts(ev) {
  const ol = document.createElement('ol');
  for (const e of ev.errors) {
    const li = document.createElement('li');
    li.textContent = `attempt ${e.attempt} · ${when(e.at)} · ${e.message}`;
    ol.append(li);
  }
  if (ev.errors.length === 0)
    ol.append(Object.assign(document.createElement('li'), { textContent: `${ev.attempts} attempt(s), no error recorded` }));
  const td = document.createElement('td');
  td.append(ol);
  return td;
}

export async function loadDeadLetters() {
  if (!isAdmin()) return;
  const q = new URLSearchParams({ limit: '100' });
  if (typeFilter()) q.set('type', typeFilter());
  const r = await api(`/api/admin/dead-letters?${q}`);
  if (!r.ok) return say(problemText(r));
  const rows = r.body.items.map((ev) => {
    const tr = document.createElement('tr');
    tr.dataset.id = ev._id;
    tr.append(cell(when(ev.deadAt)), cell(ev.type), cell(ev.deadReason ?? '–'), attempts(ev));
    const td = document.createElement('td');
    td.append(
      button(
        'retry',
        async () => {
          if (!(await confirmAction(`Retry dead letter ${ev._id} (${ev.type})?`, 'Retry'))) return;
          const x = await api(`/api/admin/dead-letters/${ev._id}/retry`, { method: 'POST', body: {} });
          say(x.ok ? `retried ${ev._id}` : `retry failed (${problemText(x)})`);
          void loadDeadLetters();
        },
        { name: `retry dead letter ${ev._id}` },
      ),
    );
    tr.append(td);
    return tr;
  });
  $('#dead tbody').replaceChildren(...rows);
  if (rows.length === 0) say(`no dead letters${typeFilter() ? ` of ${typeFilter()}` : ''}`);
  else if (!$('#dead-message').textContent.startsWith('retried')) say(`${r.body.total} dead letter(s)`);
}

async function retryFiltered() {
  const type = typeFilter();
  const ok = await confirmAction(
    type ? `Retry every dead letter of ${type}?` : 'Retry EVERY dead letter of every type?',
    'Retry all shown',
  );
  if (!ok) return;
  const r = await api('/api/admin/dead-letters/retry', { method: 'POST', body: type ? { type } : { all: true } });
  say(r.ok ? `retried ${r.body.retried}` : `retry failed (${problemText(r)})`);
  void loadDeadLetters();
}

async function purge() {
  const f = new FormData($('#dead-filters'));
  const type = typeFilter();
  const minutes = Number(f.get('olderThanMinutes') || 0);
  const body = {};
  if (type) body.type = type;
  if (minutes > 0) body.olderThanMinutes = minutes;
  if (Object.keys(body).length === 0) body.all = true;
  const what = body.all
    ? 'EVERY dead letter'
    : `dead letters${type ? ` of ${type}` : ''}${minutes > 0 ? ` older than ${minutes} min` : ''}`;
  if (!(await confirmAction(`Delete ${what}? Dead letters whose application is still open are kept.`, 'Purge'))) return;
  const r = await api('/api/admin/dead-letters/purge', { method: 'POST', body });
  say(r.ok ? `purged ${r.body.purged}` : `purge failed (${problemText(r)})`);
  void loadDeadLetters();
}

export function setupDeadLetters() {
  $('#dead-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    say('');
    void loadDeadLetters();
  });
  $('#dead-retry-filtered').addEventListener('click', retryFiltered);
  $('#dead-purge').addEventListener('click', purge);
}
