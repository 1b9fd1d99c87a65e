// The ops dashboard: signs in when needed, then renders snapshots pushed over Server-Sent Events.
const $ = (s) => document.querySelector(s);
let csrf = '';
let source;

const setStatus = (text, cls = '') => {
  const el = $('#status');
  el.textContent = text;
  el.className = cls;
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
const age = (ms) => (ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

function render(s) {
  const q = s.queue;
  $('#totals').replaceChildren(
    card('pending', q.pending),
    card('processing', q.processing),
    card('retrying', q.failed, q.failed > 0),
    card('dead', q.dead, q.dead > 0),
    card('completed', q.completed),
    card('recovered', q.recovered),
  );
  const rows = Object.entries(q.types)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, t]) => {
      const tr = document.createElement('tr');
      tr.dataset.type = type;
      if (s.paused.includes(type)) tr.className = 'paused';
      for (const v of [
        type,
        t.pending,
        t.processing,
        t.failed,
        t.dead,
        t.completed,
        t.pending ? age(t.oldestPendingAgeMs) : '–',
        t.recovered,
      ]) {
        const td = document.createElement('td');
        td.textContent = String(v);
        tr.append(td);
      }
      const td = document.createElement('td');
      const btn = document.createElement('button');
      const paused = s.paused.includes(type);
      btn.textContent = paused ? 'resume' : 'pause';
      btn.onclick = () => control(type, paused ? 'resume' : 'pause');
      td.append(btn);
      tr.append(td);
      return tr;
    });
  $('#types tbody').replaceChildren(...rows);
  $('#applications').replaceChildren(
    ...Object.entries(s.applications)
      .sort()
      .map(([k, v]) => card(k, v)),
  );
  $('#updated').textContent = new Date(s.at).toLocaleTimeString();
}

async function control(type, action) {
  const r = await fetch(`/api/admin/queues/${encodeURIComponent(type)}/${action}`, { method: 'POST', headers: { 'x-csrf-token': csrf } });
  if (!r.ok) setStatus(`${action} failed (${r.status})`, 'down');
}

function connect() {
  $('#login').hidden = true;
  $('#dashboard').hidden = false;
  source?.close();
  source = new EventSource('/api/admin/stream');
  source.addEventListener('snapshot', (e) => {
    setStatus('live', 'live');
    render(JSON.parse(e.data));
  });
  source.onerror = () => setStatus('reconnecting…', 'down');
}

async function start() {
  const me = await fetch('/api/auth/me');
  if (me.ok) {
    const body = await me.json();
    csrf = body.csrfToken;
    if (body.user.role === 'admin') return connect();
  }
  setStatus('signed out');
  $('#login').hidden = false;
}

$('#login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const r = await fetch('/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: f.get('email'), password: f.get('password') }),
  });
  const body = await r.json();
  if (!r.ok) {
    $('#login-error').textContent = body.detail ?? 'sign-in failed';
    return;
  }
  if (body.user.role !== 'admin') {
    $('#login-error').textContent = 'the dashboard needs the admin role';
    return;
  }
  csrf = body.csrfToken;
  connect();
});

void start();
