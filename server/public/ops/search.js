// The Search view (admins): an application by tracking id or by a partner's loanId, and its
// timeline (audit trail, pipeline events with each failed attempt, error-log entries) on one page.
import { $, api, cell, problemText, when } from './api.js';

const TRACKING_ID = /^LOAN-[0-9A-HJKMNP-TV-Z]{26}$/;
const say = (t) => {
  $('#search-message').textContent = t;
};

async function showTimeline(id) {
  const r = await api(`/api/admin/applications/${encodeURIComponent(id)}/timeline`);
  if (!r.ok) {
    $('#timeline-box').hidden = true;
    return say(r.status === 404 ? `no application ${id}` : problemText(r));
  }
  const t = r.body;
  $('#timeline-title').textContent = `Timeline of ${t.id} (${t.status}${t.loanId ? `, partner loanId ${t.loanId}` : ''})`;
  $('#timeline tbody').replaceChildren(
    ...t.entries.map((e) => {
      const tr = document.createElement('tr');
      tr.className = `kind-${e.kind}`;
      tr.append(cell(when(e.at)), cell(e.kind), cell(e.title), cell(e.detail || '–'), cell(e.by));
      return tr;
    }),
  );
  $('#timeline-box').hidden = false;
  say(`${t.entries.length} timeline entries`);
}

async function search(q) {
  $('#search-results').replaceChildren();
  $('#timeline-box').hidden = true;
  if (TRACKING_ID.test(q)) return showTimeline(q);
  const r = await api(`/api/admin/applications?${new URLSearchParams({ loanId: q })}`);
  if (!r.ok) return say(problemText(r));
  if (r.body.items.length === 0) return say(`nothing found for ${q}`);
  if (r.body.items.length === 1) return showTimeline(r.body.items[0].id);
  say(`${r.body.items.length} applications have loanId ${q} (one per partner): choose one`);
  $('#search-results').replaceChildren(
    ...r.body.items.map((a) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = `${a.id} · partner ${a.partnerId} · ${a.status}`;
      b.addEventListener('click', () => void showTimeline(a.id));
      li.append(b);
      return li;
    }),
  );
}

export function setupSearch() {
  $('#search').addEventListener('submit', (e) => {
    e.preventDefault();
    void search(String(new FormData(e.target).get('q') ?? '').trim());
  });
}
