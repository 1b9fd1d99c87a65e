// The operations console: signs in when needed, then lives on two Server-Sent Events streams
// (snapshot: queues/pauses/intake/breakers; series: the charts' buckets). EventSource reconnects
// by itself (retry: 3 s); the series stream resends its whole window on every connect, so a
// reconnect (to this or, through nginx, another instance) redraws the charts from scratch.
// Views are tabs (arrow keys move between them). Reviewers and viewers get the read-only parts:
// action buttons are not rendered for them, and the admin routes refuse them anyway.
import { $, applyRole, session } from './api.js';
import { onPoints, onWindow, setupCharts } from './charts.js';
import { loadDeadLetters, setupDeadLetters } from './dead-letters.js';
import { loadErrors, setupErrors } from './errors.js';
import { refreshLocks, renderSnapshot, setupQueues } from './queues.js';
import { setupSearch } from './search.js';
import { refreshStuck, refreshVendors } from './vendors.js';

const streams = { snapshot: undefined, series: undefined };
const live = { snapshot: false, series: false };
let poller;

function setStatus(text, cls = '') {
  const el = $('#status');
  el.textContent = text;
  el.className = cls;
}
const showLive = () => (live.snapshot && live.series ? setStatus('live', 'live') : setStatus('reconnecting…', 'down'));

/** Work a view does while it is shown: load on open, refresh every 3 s. */
const VIEW_WORK = {
  'view-queues': () => Promise.all([refreshLocks(), refreshVendors(), refreshStuck()]),
  'view-errors': () => loadErrors(),
  'view-dead': loadDeadLetters,
};

function selectTab(tab, focus = false) {
  for (const t of document.querySelectorAll('[role="tab"]')) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(`#${t.getAttribute('aria-controls')}`).hidden = !on;
  }
  if (focus) tab.focus();
  const view = tab.getAttribute('aria-controls');
  clearInterval(poller);
  const work = VIEW_WORK[view];
  if (work) {
    void work();
    // Errors are loaded on demand (filters), the others refresh while shown.
    if (view !== 'view-errors') poller = setInterval(() => void work(), 3000);
  }
  if (view === 'view-charts') window.opsCharts.redraw();
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const t of tabs) t.addEventListener('click', () => selectTab(t));
  $('#tabs').addEventListener('keydown', (e) => {
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    selectTab(tabs[(to + tabs.length) % tabs.length], true);
  });
}

function open(name, url, handlers) {
  streams[name]?.close();
  const source = new EventSource(url);
  streams[name] = source;
  for (const [event, fn] of Object.entries(handlers))
    source.addEventListener(event, (e) => {
      live[name] = true;
      showLive();
      fn(JSON.parse(e.data));
    });
  source.onopen = () => {
    live[name] = true;
    showLive();
  };
  source.onerror = () => {
    live[name] = false;
    showLive();
  };
}

function enter(user, csrf) {
  session.role = user.role;
  session.email = user.email;
  session.csrf = csrf;
  $('#who').textContent = `${user.email} · ${user.role}${user.role === 'admin' ? '' : ' (read-only)'}`;
  $('#login').hidden = true;
  $('#console').hidden = false;
  $('#logout').hidden = false;
  applyRole();
  open('snapshot', '/api/admin/stream', { snapshot: renderSnapshot });
  open('series', '/api/admin/ops/series', { window: onWindow, points: onPoints });
  selectTab($('#tab-charts'));
}

async function start() {
  setupTabs();
  setupCharts();
  setupQueues();
  setupErrors();
  setupDeadLetters();
  setupSearch();
  const me = await fetch('/api/auth/me');
  if (me.ok) {
    const body = await me.json();
    return enter(body.user, body.csrfToken);
  }
  setStatus('signed out');
  $('#login').hidden = false;
  $('#login input[name="email"]').focus();
}

$('#login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const r = await fetch('/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: f.get('email'), password: f.get('password') }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    $('#login-error').textContent = body.detail ?? 'sign-in failed';
    return;
  }
  enter(body.user, body.csrfToken);
});

$('#logout').addEventListener('click', async () => {
  await fetch('/api/auth/logout', { method: 'POST', headers: { 'x-csrf-token': session.csrf } });
  location.reload();
});

void start();
