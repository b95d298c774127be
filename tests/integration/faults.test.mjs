// Faults: the disk fills up under a running roost. Writes must fail with a clear GraphQL error,
// reads must keep working, and roost must stay up (and recover once there is room again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRoost } from './lib/roost.mjs';
import { authedSocket, client, until } from './lib/gql.mjs';

const root = process.getuid && process.getuid() === 0;

test('disk full: writes fail with a clear error, reads keep working, and writes resume', { skip: !root && 'needs root to mount a small tmpfs' }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'roost-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
  let r;
  try {
    r = await startRoost({ store: `sqlite:${path.join(dir, 'roost.db')}`, threads: 1 });
    const g = client(r.url);
    const alice = await g.register('full');
    const bob = await g.register('full');
    const room = (await g.data(`mutation($u: ID!) { getLocation(userId: $u) { id } }`, { u: bob.user.id }, { creds: alice })).getLocation.id;
    // Fill the file system, leaving the database no room to grow.
    const filler = path.join(dir, 'filler');
    try { writeFileSync(filler, Buffer.alloc(8 << 20)); } catch { /* ENOSPC: full, as intended */ }
    let failed = null;
    for (let i = 0; i < 400 && !failed; i++) {
      const res = await g.post(`mutation($c: ID!, $t: String!) { sendMessage(chatroomId: $c, text: $t) { id } }`,
        { c: room, t: 'x'.repeat(3000) }, { creds: alice });
      if (res.body.errors) failed = res;
    }
    assert.ok(failed, 'a write failed once the disk was full');
    assert.equal(failed.status, 200);
    assert.match(JSON.stringify(failed.body.errors), /storage|disk|full|unavailable|write/i);
    // Reads still work.
    const me = await g.data('{ me { username } }', {}, { creds: alice });
    assert.equal(me.me.username, alice.name);
    const hist = await g.data(`query($c: ID!) { chatroom(id: $c) { messages(last: 5) { nodes { id } } } }`, { c: room }, { creds: alice });
    assert.ok(Array.isArray(hist.chatroom.messages.nodes));
    // Room again: writes resume.
    unlinkSync(filler);
    const ok = await g.post(`mutation($c: ID!, $t: String!) { sendMessage(chatroomId: $c, text: $t) { id } }`,
      { c: room, t: 'after' }, { creds: alice });
    assert.equal(ok.body.errors, undefined, JSON.stringify(ok.body.errors));
    await r.stop();
  } finally {
    if (r) await r.cleanup();
    try { execFileSync('umount', ['-l', dir]); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

// The database goes away under a running roost (its own throwaway PostgreSQL, halted and
// resumed on the same port): requests that need it get a clear GraphQL error instead of hanging
// or crashing, sockets stay connected, and everything works again once the database is back,
// without restarting roost.
const PG_TEST = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../scripts/pg-test.sh');
const pgAvailable = (() => {
  try { execFileSync('sh', ['-c', 'ls /usr/lib/postgresql/*/bin/initdb'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

test('database unavailable: clear errors meanwhile, and recovery when it returns', { skip: !pgAvailable && 'PostgreSQL is not installed' }, async () => {
  const url = execFileSync(PG_TEST, ['start'], { encoding: 'utf8' }).trim();
  let r;
  try {
    r = await startRoost({ store: url, threads: 1 });
    const g = client(r.url);
    const alice = await g.register('pgdown');
    const bob = await g.register('pgdown');
    const SEND = `mutation($c: ID!, $t: String!) { sendMessage(chatroomId: $c, text: $t) { id text } }`;
    const room = (await g.data(`mutation($u: ID!) { getLocation(userId: $u) { id } }`, { u: bob.user.id }, { creds: alice })).getLocation.id;
    assert.ok((await g.data(SEND, { c: room, t: 'before' }, { creds: alice })).sendMessage.id);
    const sock = await authedSocket(r.url, alice);

    execFileSync(PG_TEST, ['halt', url]);
    // A write and a read while it is down: each answers (no hang) with the storage error.
    for (const [query, vars] of [[SEND, { c: room, t: 'during' }],
      [`query($c: ID!) { chatroom(id: $c) { messages(last: 5) { nodes { text } } } }`, { c: room }]]) {
      const t0 = Date.now();
      const res = await g.post(query, vars, { creds: alice });
      assert.ok([200, 503].includes(res.status), `status ${res.status}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.errors, `expected an error while the database is down: ${JSON.stringify(res.body)}`);
      // 503 with Retry-After when the request's session cannot even be checked, else a
      // resolver's error: the same code either way.
      assert.match(res.body.errors[0].message, /unavailable/i, JSON.stringify(res.body.errors));
      assert.equal(res.body.errors[0].extensions?.code, 'UNAVAILABLE', JSON.stringify(res.body.errors));
      if (res.status === 503) assert.equal(res.headers.get('retry-after'), '1');
      assert.ok(Date.now() - t0 < 30000, 'answered within the store timeout');
    }
    assert.equal((await fetch(`${r.url}/healthz`)).status, 200, 'roost itself keeps serving');
    assert.ok(sock.connected, 'sockets stay connected');

    execFileSync(PG_TEST, ['resume', url]);
    // Back: the next writes and reads succeed without restarting roost (the store reconnects).
    let sent = null;
    await until(async () => {
      const res = await g.post(SEND, { c: room, t: 'after' }, { creds: alice });
      if (!res.body.errors) sent = res.body.data.sendMessage;
      else await new Promise((ok) => setTimeout(ok, 250));
      return sent !== null;
    }, 30000, 'a write succeeds after the database is back');
    const texts = (await g.data(`query($c: ID!) { chatroom(id: $c) { messages(last: 5) { nodes { text } } } }`, { c: room }, { creds: alice }))
      .chatroom.messages.nodes.map((n) => n.text);
    assert.ok(texts.includes('before') && texts.includes('after'), JSON.stringify(texts));
    assert.ok(!texts.includes('during'), 'the write that was refused was not stored');
    sock.close();
  } finally {
    if (r) { await r.stop(); await r.cleanup(); }
    try { execFileSync(PG_TEST, ['stop', url]); } catch { /* already gone */ }
  }
});
