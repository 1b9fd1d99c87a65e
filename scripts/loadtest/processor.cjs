// Artillery processor for the creditdesk load tests (CommonJS: artillery loads it in its workers).
// The runner (run.ts) writes the scenario data (admin pool, target ids, timing) to the JSON file
// named by LOADTEST_DATA. Every response is classified into custom counters:
//   creditdesk.ok (2xx) · creditdesk.conflict (409) · creditdesk.unexpected (any other status)
//   creditdesk.shed (the API's load-shedding 503 + Retry-After, ADR 0028; per request name in
//   creditdesk.shed.<name>) · creditdesk.edge_refused (nginx's own 502/503 + Retry-After: no
//   instance took the request) · the histogram creditdesk.answered_ms (time to first byte of
//   every answer that was not such a refusal)
// A refused request is not an error: the virtual user waits Retry-After before its next request
// (think() waits at least that long) and carries on; a refused login is retried after Retry-After
// up to LOGIN_ATTEMPTS times, then the virtual user ends without working (creditdesk.login.gave_up).
// and the intake scenario's own counters (intake.*, below).
'use strict';
const { readFileSync } = require('node:fs');

const data = JSON.parse(readFileSync(process.env.LOADTEST_DATA, 'utf8'));
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const STATUSES = ['', '', 'submitted', 'under_review', 'approved', 'rejected'];
const SORTS = ['-createdAt', 'createdAt', '-amount', 'amount', '-updatedAt'];
const PURPOSES = ['home renovation', 'car purchase', 'debt consolidation', 'small business', 'education'];
let vuCounter = 0;

function parseBody(res) {
  try {
    return typeof res.body === 'string' ? JSON.parse(res.body) : res.body;
  } catch {
    return undefined;
  }
}

/** A refusal with Retry-After: the API shed the request (its problem type says so) or nginx had no instance for it. */
function refusal(res) {
  const s = res.statusCode;
  const retryAfter = Number(res.headers['retry-after']);
  if ((s !== 503 && s !== 502) || !(retryAfter > 0)) return undefined;
  const type = parseBody(res)?.type || '';
  if (s === 503 && /\/problems\/(overloaded|login_busy)$/.test(type)) return { kind: 'shed', retryAfter };
  if (type === 'about:blank') return { kind: 'edge_refused', retryAfter };
  return undefined;
}

/** Classifies every response; 409 is a conflict (expected under concurrency), not an error; a refusal (above) is counted apart. */
function track(req, res, context, ee, next) {
  const s = res.statusCode;
  const refused = refusal(res);
  context.vars.refused = Boolean(refused); // the last answer was a refusal (retryLogin)
  if (!refused && res.timings?.phases?.firstByte !== undefined)
    ee.emit('histogram', 'creditdesk.answered_ms', res.timings.phases.firstByte);
  if (s >= 200 && s < 300) ee.emit('counter', 'creditdesk.ok', 1);
  else if (s === 409) ee.emit('counter', 'creditdesk.conflict', 1);
  else if (refused) {
    ee.emit('counter', `creditdesk.${refused.kind}`, 1);
    ee.emit('counter', `creditdesk.${refused.kind}.${req.name || 'other'}`, 1);
    context.vars.retryAfterMs = refused.retryAfter * 1000;
  } else {
    ee.emit('counter', 'creditdesk.unexpected', 1);
    ee.emit('counter', `creditdesk.unexpected.${s}.${req.name || req.url.split('?')[0].replace(/LOAN-\w+/, ':id')}`, 1);
  }
  return next();
}

/** One admin of the pre-created pool per virtual user (pool accounts are shared by many VUs). */
function pickAdmin(context, _events, done) {
  const a = data.admins[vuCounter++ % data.admins.length];
  context.vars.email = a.email;
  context.vars.password = a.password;
  context.vars.iteration = 0;
  context.vars.round = 0;
  return done();
}

function loggedIn(req, res, context, ee, next) {
  const body = parseBody(res);
  if (res.statusCode === 200 && body && body.csrfToken) context.vars.csrf = body.csrfToken;
  context.vars.loginAttempts = (context.vars.loginAttempts || 0) + 1;
  if (context.vars.csrf) ee.emit('counter', 'creditdesk.login.ok', 1);
  else if (refusal(res)) ee.emit('counter', 'creditdesk.login.refused', 1);
  return track(req, res, context, ee, next);
}

/** Logins per virtual user while refused with Retry-After (admins-overload). */
const LOGIN_ATTEMPTS = 10;
/** whileTrue of the login loop: signed in, or out of attempts (then counted as given up). */
function retryLogin(context, next) {
  if (context.vars.csrf) return next(false);
  if ((context.vars.loginAttempts || 0) < LOGIN_ATTEMPTS && context.vars.refused) return next(true);
  return next(false);
}
/** ifTrue of the work requests (called with the vars): only a signed-in admin works. */
function signedIn(vars) {
  return Boolean(vars.csrf);
}
/** ifTrue of the update: signed in and the application was opened (its version known; an open that was shed leaves none). */
function canUpdate(vars) {
  return Boolean(vars.csrf) && vars.version !== undefined;
}
/** Waits the Retry-After of the last refusal, if any (between login attempts). */
function honourRetryAfter(context, _events, done) {
  const ms = context.vars.retryAfterMs || 0;
  context.vars.retryAfterMs = 0;
  setTimeout(done, ms);
}

function withCsrf(req, context, _ee, next) {
  req.headers = Object.assign({}, req.headers, { 'x-csrf-token': context.vars.csrf || '' });
  return next();
}

/** Random think time in [0.5, 1.5] × THINK_MS (set by the runner; the smoke run uses a short one), at least a refusal's Retry-After. */
function think(context, _events, done) {
  const base = Number(data.thinkMs || 0);
  const retryAfter = context.vars.retryAfterMs || 0;
  context.vars.retryAfterMs = 0;
  setTimeout(done, Math.max(retryAfter, base * (0.5 + Math.random())));
}

function moreWork(context, next) {
  context.vars.iteration = (context.vars.iteration || 0) + 1;
  return next(context.vars.iteration < data.iterations); // artillery checks whileTrue after each pass
}

/** admins-overload: moreWork, for a signed-in admin only (one that never signed in stops after the first, empty pass). */
function moreWorkSignedIn(context, next) {
  if (!context.vars.csrf) return next(false);
  return moreWork(context, next);
}

/** A virtual user of admins-overload that never signed in (every attempt refused) ends here: counted. */
function countGaveUp(context, events, done) {
  if (!context.vars.csrf) events.emit('counter', 'creditdesk.login.gave_up', 1);
  return done();
}

// --- admins: list with filters and pagination → open one → update it with its version ---------
function listQuery(req, _context, _ee, next) {
  const status = pick(STATUSES);
  req.url = `/api/applications?page=${1 + Math.floor(Math.random() * 20)}&limit=20&sort=${pick(SORTS)}${status ? `&status=${status}` : ''}`;
  return next();
}

function pickFromList(req, res, context, ee, next) {
  const body = parseBody(res);
  const items = body?.items || [];
  context.vars.appId = items.length ? pick(items).id : pick(data.sampleIds);
  return track(req, res, context, ee, next);
}

function opened(req, res, context, ee, next) {
  const body = parseBody(res);
  context.vars.version = body?.version;
  // The terms (amount, …) can change only before a decision; later an admin edits the purpose.
  context.vars.termsEditable = body?.status === 'submitted' || body?.status === 'under_review';
  return track(req, res, context, ee, next);
}

function updateBody(req, context, ee, next) {
  const terms = context.vars.termsEditable ? { amount: 1000 * (1 + Math.floor(Math.random() * 100)) } : {};
  req.json = { version: context.vars.version || 1, purpose: pick(PURPOSES), ...terms };
  return withCsrf(req, context, ee, next);
}

// --- conflict storm: every admin updates round r's application with version 1 at the same moment --
function awaitRound(context, _events, done) {
  const r = context.vars.round;
  context.vars.appId = data.storm.appIds[r];
  const at = data.storm.startAt + r * data.storm.roundMs;
  setTimeout(done, Math.max(0, at - Date.now()));
}

function stormBody(req, context, ee, next) {
  req.json = { version: 1, amount: 1000 + Math.floor(Math.random() * 1e6) };
  return withCsrf(req, context, ee, next);
}

function stormTrack(req, res, context, ee, next) {
  const r = context.vars.round;
  if (res.statusCode === 200) ee.emit('counter', `storm.round_${r}.ok`, 1);
  else if (res.statusCode === 409) ee.emit('counter', `storm.round_${r}.conflict`, 1);
  context.vars.round = r + 1;
  return track(req, res, context, ee, next);
}

function moreRounds(context, next) {
  return next(context.vars.round < data.storm.appIds.length);
}

// --- ingestion: creations at a fixed arrival rate, on sessions logged in once per worker --------
let sessions;
async function loginPool() {
  return Promise.all(
    data.ingest.clerks.map(async (c) => {
      const r = await fetch(`${data.target}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: c.email, password: c.password }),
      });
      if (r.status !== 200) throw new Error(`ingestion clerk login failed: ${r.status}`);
      const cookie = r.headers
        .getSetCookie()
        .find((x) => x.startsWith('creditdesk.sid='))
        .split(';')[0];
      return { cookie, csrf: (await r.json()).csrfToken };
    }),
  );
}

function useSession(context, _events, done) {
  sessions ??= loginPool();
  sessions.then((s) => {
    const one = s[vuCounter++ % s.length];
    context.vars.cookieHeader = one.cookie;
    context.vars.csrf = one.csrf;
    done();
  }, done);
}

function ingestBody(req, context, _ee, next) {
  const n = Math.floor(Math.random() * 1e9);
  req.headers = Object.assign({}, req.headers, { cookie: context.vars.cookieHeader, 'x-csrf-token': context.vars.csrf });
  req.json = {
    applicant: { name: `Load Test ${n}`, email: `load${n}@example.com`, phone: '+1 555 0100', age: 18 + (n % 60) },
    amount: 1000 * (1 + (n % 100)),
    income: 20000 + (n % 200) * 1000,
    creditScore: 300 + (n % 551),
    purpose: data.ingest.purpose,
  };
  return next();
}

// --- intake: partner submissions with unique keys, replays, status polls, SSE subscribers -------
// data.intake: { key (the partner's bearer key), idsFile (every first 202 appends "<key> <id>"),
// sseMs (how long a subscriber reads its stream) }.
const { appendFileSync } = require('node:fs');
const { randomUUID } = require('node:crypto');
const FIRST = ['Ana', 'Ben', 'Chloe', 'Dmitri', 'Esther', 'Farid', 'Grace', 'Hiro'];
const LAST = ['Okafor', 'Smith', 'Novak', 'Garcia', 'Tanaka', 'Haddad', 'Murphy', 'Silva'];
const between = (lo, hi) => Math.round(lo + Math.random() * (hi - lo));

function withPartnerKey(req, _context, _ee, next) {
  req.headers = Object.assign({}, req.headers, { authorization: `Bearer ${data.intake.key}` });
  return next();
}

/** A fresh loan request and Idempotency-Key (unique across artillery's workers); kept for the replay. */
function intakeSubmit(req, context, ee, next) {
  const first = pick(FIRST);
  const last = pick(LAST);
  const ref = randomUUID();
  context.vars.intakeKey = `K-${ref}`;
  context.vars.intakeBody = {
    loanId: `LT-${ref}`,
    application: {
      name: `${first} ${last}`,
      age: between(18, 80),
      email: `${first}.${last}@example.com`.toLowerCase(),
      phone: `+1 555 ${between(1000000, 9999999)}`,
    },
    amount: between(1, 150) * 1000,
    income: between(18, 250) * 1000,
    creditScore: between(520, 850),
    purpose: pick(PURPOSES),
  };
  req.json = context.vars.intakeBody;
  req.headers = Object.assign({}, req.headers, { 'idempotency-key': context.vars.intakeKey });
  return withPartnerKey(req, context, ee, next);
}

/** A first answer: 202, not a replay, with an id; the id is recorded for the runner's checks. */
function intakeSubmitted(req, res, context, ee, next) {
  const body = parseBody(res);
  if (res.statusCode === 202 && res.headers['idempotent-replayed'] !== 'true' && body?.id) {
    context.vars.intakeId = body.id;
    context.vars.intakeAnswer = JSON.stringify(body);
    context.vars.intakeLocation = res.headers.location;
    appendFileSync(data.intake.idsFile, `${context.vars.intakeKey} ${body.id}\n`);
    ee.emit('counter', 'intake.accepted', 1);
  } else if (res.statusCode === 202) ee.emit('counter', 'intake.first_was_replay', 1);
  return track(req, res, context, ee, next);
}

/** The same body with the same key again. */
function intakeReplay(req, context, ee, next) {
  req.json = context.vars.intakeBody;
  req.headers = Object.assign({}, req.headers, { 'idempotency-key': context.vars.intakeKey });
  return withPartnerKey(req, context, ee, next);
}

/** A replay must be the first answer again: 202, Idempotent-Replayed: true, the same body and Location. */
function intakeReplayed(req, res, context, ee, next) {
  const identical =
    context.vars.intakeAnswer !== undefined &&
    res.statusCode === 202 &&
    res.headers['idempotent-replayed'] === 'true' &&
    JSON.stringify(parseBody(res)) === context.vars.intakeAnswer &&
    res.headers.location === context.vars.intakeLocation;
  ee.emit('counter', identical ? 'intake.replay_identical' : 'intake.replay_different', 1);
  return track(req, res, context, ee, next);
}

/** A status poll must answer 200 with the submitted application. */
function intakeStatus(req, res, context, ee, next) {
  const body = parseBody(res);
  const ok = res.statusCode === 200 && body && body.id === context.vars.intakeId && body.loanId === context.vars.intakeBody.loanId;
  ee.emit('counter', ok ? 'intake.status_ok' : 'intake.status_wrong', 1);
  return track(req, res, context, ee, next);
}

/**
 * An SSE subscriber: opens GET /api/loan/requests/events with fetch and reads it for data.intake.sseMs,
 * counting `data:` events. A 404 (the route not deployed yet) counts as intake.sse.unavailable and
 * ends the virtual user quietly, so the rest of the scenario still runs.
 */
function sseSubscribe(_context, ee, done) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), Number(data.intake.sseMs || 3000));
  const finish = (counter) => {
    clearTimeout(timer);
    ee.emit('counter', counter, 1);
    done();
  };
  fetch(`${data.target}/api/loan/requests/events`, {
    headers: { authorization: `Bearer ${data.intake.key}`, accept: 'text/event-stream' },
    signal: ac.signal,
  }).then(
    async (res) => {
      if (res.status !== 200 || !(res.headers.get('content-type') || '').startsWith('text/event-stream')) {
        await res.body?.cancel().catch(() => {});
        const what = res.status === 404 ? 'unavailable' : res.status === 429 ? 'capped' : `unexpected_${res.status}`;
        return finish(`intake.sse.${what}`);
      }
      ee.emit('counter', 'intake.sse.opened', 1);
      const reader = res.body.getReader();
      const text = new TextDecoder();
      let buf = '';
      let events = 0;
      try {
        for (;;) {
          const { value, done: ended } = await reader.read();
          if (ended) break;
          buf += text.decode(value, { stream: true });
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            if (/^data:/m.test(buf.slice(0, i))) events++;
            buf = buf.slice(i + 2);
          }
        }
      } catch {
        /* aborted by the timer below, or the stream broke: told apart by ac.signal */
      }
      if (events) ee.emit('counter', 'intake.sse.events', events);
      return finish(ac.signal.aborted ? 'intake.sse.read_full_time' : 'intake.sse.closed_early');
    },
    () => finish(ac.signal.aborted ? 'intake.sse.timeout' : 'intake.sse.error'),
  );
}

module.exports = {
  track,
  pickAdmin,
  loggedIn,
  retryLogin,
  signedIn,
  canUpdate,
  honourRetryAfter,
  countGaveUp,
  moreWorkSignedIn,
  withCsrf,
  think,
  moreWork,
  listQuery,
  pickFromList,
  opened,
  updateBody,
  awaitRound,
  stormBody,
  stormTrack,
  moreRounds,
  useSession,
  ingestBody,
  withPartnerKey,
  intakeSubmit,
  intakeSubmitted,
  intakeReplay,
  intakeReplayed,
  intakeStatus,
  sseSubscribe,
};
