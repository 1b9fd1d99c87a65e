// Shared helpers of the console: element lookup, the signed-in session (role, CSRF token), JSON
// requests that carry the CSRF header, the confirm dialog and small formatters.
export const $ = (s, root = document) => root.querySelector(s);
export const session = { role: '', email: '', csrf: '' };
export const isAdmin = () => session.role === 'admin';

/** A JSON request; resolves to { ok, status, body } (body null when not JSON). */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = session.csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { ok: r.ok, status: r.status, body: parsed };
}

/** The problem detail of a failed answer, for a message. */
export const problemText = (r) => `${r.status}: ${r.body?.detail ?? r.body?.title ?? 'request failed'}`;

/** Asks before an action (a native modal dialog: focus is trapped and Escape cancels). */
export function confirmAction(text, okLabel = 'Confirm') {
  const dialog = $('#confirm');
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    $('#confirm-ok').focus();
  });
}

/** A table cell with text (never HTML). */
export function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '–' : String(text);
  if (cls) td.className = cls;
  return td;
}

export function button(label, onClick, { danger = false, name } = {}) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (name) b.setAttribute('aria-label', name);
  if (danger) b.className = 'danger';
  b.addEventListener('click', onClick);
  return b;
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
export const age = (ms) => (ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

/** Shows admin-only controls to admins, and the "admins only" notes to everyone else. */
export function applyRole(root = document) {
  for (const el of root.querySelectorAll('[data-admin]')) el.hidden = !isAdmin();
  for (const el of root.querySelectorAll('[data-nonadmin]')) el.hidden = isAdmin();
}
