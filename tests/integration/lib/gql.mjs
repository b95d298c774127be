// gql.mjs - helpers for the platform tests: GraphQL over HTTP with the session credentials,
// accounts, authenticated sockets, waiting for events, and direct database reads.
//
//   const g = client(roost.url);
//   const alice = await g.register('alice');          // {id, secretkey, user, name, password}
//   const res = await g.post(QUERY, vars, { creds: alice });   // {status, body, headers}
//   const s = await authedSocket(roost.url, alice);     // connected, `auth` true received
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { io } from 'socket.io-client';

export const PASSWORD = 'correct horse battery';

/** A username no other test (or earlier run on the same database) has used. */
export function uniqueName(prefix = 'u') {
  return `${prefix}_${randomBytes(5).toString('hex')}`.slice(0, 32);
}

export function bearer(creds) {
  return { authorization: `Bearer ${creds.id}:${creds.secretkey}` };
}

export function client(url) {
  async function post(query, variables = {}, { creds, headers = {}, cookies } = {}) {
    const h = { 'content-type': 'application/json', accept: 'application/json', ...headers };
    if (creds) Object.assign(h, bearer(creds));
    if (cookies) h.cookie = cookies;
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: h, body: JSON.stringify({ query, variables }) });
    const text = await res.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = { raw: text };
    }
    return { status: res.status, body, headers: res.headers };
  }
  /** data of a successful operation; throws with the errors otherwise. */
  async function data(query, variables, opts) {
    const r = await post(query, variables, opts);
    if (r.status !== 200 || r.body.errors) {
      throw new Error(`GraphQL failed (${r.status}): ${JSON.stringify(r.body.errors || r.body)}`);
    }
    return r.body.data;
  }
  async function register(prefix = 'u', { displayName, password = PASSWORD } = {}) {
    const name = uniqueName(prefix);
    const d = await data(
      `mutation R($u: String!, $d: String!, $p: String!) {
        register(username: $u, displayName: $d, password: $p) { id secretkey user { id username displayName } }
      }`,
      { u: name, d: displayName || `User ${prefix}`, p: password },
    );
    return { ...d.register, name, password };
  }
  async function login(username, password = PASSWORD) {
    const d = await data(
      `mutation L($u: String!, $p: String!) { login(username: $u, password: $p) { id secretkey user { id username } } }`,
      { u: username, p: password },
    );
    return d.login;
  }
  return { post, data, register, login };
}

const sockets = [];

/** A socket.io client (not yet authenticated); closed by closeSockets(). */
export function socket(url, opts = {}) {
  const s = io(url, { forceNew: true, reconnection: false, transports: ['websocket'], ...opts });
  sockets.push(s);
  return s;
}

export function closeSockets() {
  while (sockets.length) sockets.pop().close();
}

export function once(s, ev, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      s.off(ev, h);
      reject(new Error(`timed out waiting for "${ev}"`));
    }, timeout);
    const h = (...args) => {
      clearTimeout(t);
      resolve(args);
    };
    s.once(ev, h);
  });
}

export async function connected(s) {
  if (s.connected) return s;
  const [err] = await Promise.race([once(s, 'connect').then(() => [null]), once(s, 'connect_error')]);
  if (err) throw err;
  return s;
}

/** Emit initialConnection and resolve with the `auth` arguments. */
export async function announce(s, payload) {
  const p = once(s, 'auth');
  s.emit('initialConnection', payload);
  return p;
}

/** A connected socket authenticated with initialConnection (auth true asserted). */
export async function authedSocket(url, creds, opts = {}) {
  const s = await connected(socket(url, opts));
  const [ok, info] = await announce(s, { id: creds.id, secretkey: creds.secretkey });
  if (ok !== true) throw new Error(`auth failed: ${JSON.stringify(info)}`);
  return s;
}

/** Record every event of these names a socket receives: rec.events[name] = [payload...]. */
export function recorder(s, names) {
  const rec = { events: Object.fromEntries(names.map((n) => [n, []])) };
  for (const n of names) s.on(n, (p) => rec.events[n].push(p));
  rec.clear = () => names.forEach((n) => (rec.events[n] = []));
  return rec;
}

/** Wait until pred() is true (polling), or fail after timeout. */
export async function until(pred, timeout = 5000, what = 'condition') {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Run SQL against the roost's database (sqlite3 CLI or psql); rows as arrays of strings. */
export function dbQuery(roost, store, sql) {
  const target = store || `sqlite:${path.join(roost.dataDir, 'roost.db')}`;
  let out;
  if (target.startsWith('sqlite:')) {
    out = execFileSync('sqlite3', ['-separator', '\t', target.slice(7), sql], { encoding: 'utf8' });
  } else {
    out = execFileSync('psql', [target, '-At', '-F', '\t', '-c', sql], { encoding: 'utf8' });
  }
  return out.split('\n').filter((l) => l.length).map((l) => l.split('\t'));
}
