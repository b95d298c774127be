// Faults: the disk fills up under a running roost. Writes must fail with a clear GraphQL error,
// reads must keep working, and roost must stay up (and recover once there is room again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRoost } from './lib/roost.mjs';
import { client } from './lib/gql.mjs';

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
