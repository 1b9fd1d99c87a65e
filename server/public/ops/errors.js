// The Error log view: filters (code, category, loan id, partner, date range), counts by category
// and code, the entries newest first (keyset pages), and a confirmed, audited one-click retry of
// an entry whose failed step can be re-run.
import { $, api, button, cell, confirmAction, isAdmin, problemText, when } from './api.js';

let next = null;
let query = '';

function filters() {
  const f = new FormData($('#error-filters'));
  const q = new URLSearchParams();
  for (const k of ['code', 'category', 'loanId', 'partner']) {
    const v = String(f.get(k) ?? '').trim();
    if (v) q.set(k, v);
  }
  for (const k of ['from', 'to']) {
    const v = String(f.get(k) ?? '');
    if (v) q.set(k, new Date(v).toISOString());
  }
  return q;
}

function row(e) {
  const tr = document.createElement('tr');
  tr.dataset.id = e.id;
  tr.append(cell(when(e.lastSeen)), cell(`${e.code} (${e.category})`), cell(e.applicationId ?? e.loanId), cell(e.message), cell(e.count));
  const td = document.createElement('td');
  if (isAdmin() && e.retryable)
    td.append(
      button(
        'retry',
        async () => {
          if (
            !(await confirmAction(
              `Retry ${e.stage} for ${e.applicationId ?? e.loanId ?? 'this entry'}? The failed step runs again.`,
              'Retry',
            ))
          )
            return;
          const r = await api(`/api/loans/errors/${e.id}/retry`, { method: 'POST', body: {} });
          $('#errors-message').textContent = r.ok ? '' : `retry failed (${problemText(r)})`;
          if (r.ok) void loadErrors();
        },
        { name: `retry ${e.code} ${e.applicationId ?? ''}` },
      ),
    );
  tr.append(td);
  return tr;
}

export async function loadErrors(more = false) {
  const q = more ? new URLSearchParams(query) : filters();
  if (more && next) q.set('cursor', next);
  if (!more) query = q.toString();
  const summaryQ = new URLSearchParams();
  for (const k of ['from', 'to']) if (q.get(k)) summaryQ.set(k, q.get(k));
  const [list, summary] = await Promise.all([api(`/api/loans/errors?${q}`), more ? null : api(`/api/loans/errors/summary?${summaryQ}`)]);
  if (!list.ok) {
    $('#errors-message').textContent = problemText(list);
    return;
  }
  $('#errors-message').textContent = '';
  next = list.body.next;
  $('#errors-more').hidden = !next;
  const rows = list.body.items.map(row);
  if (more) $('#errors tbody').append(...rows);
  else $('#errors tbody').replaceChildren(...rows);
  if (summary?.ok) {
    $('#error-categories tbody').replaceChildren(
      ...summary.body.byCategory.map((c) => {
        const tr = document.createElement('tr');
        tr.append(cell(c.category), cell(c.entries), cell(c.occurrences));
        return tr;
      }),
    );
    $('#error-codes tbody').replaceChildren(
      ...summary.body.byCode.map((c) => {
        const tr = document.createElement('tr');
        tr.append(cell(c.code), cell(c.category), cell(c.occurrences));
        return tr;
      }),
    );
  }
}

export function setupErrors() {
  $('#error-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadErrors();
  });
  $('#errors-more').addEventListener('click', () => void loadErrors(true));
}
