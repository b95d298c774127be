// Engine.IO v4: polling, WebSocket, upgrade, heartbeat and the reference server's errors,
// driven by the real engine.io-client against roost's conformance echo at /engine.io/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'engine.io-client';
import { startRoost, sleep } from './lib/roost.mjs';

let roost;
before(async () => {
  // --ping-timeout overrides the conformance default (200 ms) so a slow, sanitized client keeps
  // its sessions; the interval stays at the conformance 300 ms.
  roost = await startRoost({ args: ['--conformance', '--ping-timeout', '1000', '--max-payload', '100000', '--cors-origin', 'http://ok.example'] });
});
after(async () => {
  await roost.stop();
  await roost.cleanup();
});

function open(transports, opts = {}) {
  return new Promise((resolve, reject) => {
    const s = new Socket(roost.url, { path: '/engine.io/', transports, ...opts });
    s.on('open', () => resolve(s));
    s.on('error', reject);
  });
}

function nextMessages(s, n) {
  return new Promise((resolve) => {
    const got = [];
    const on = (m) => {
      got.push(m);
      if (got.length === n) {
        s.off('message', on);
        resolve(got);
      }
    };
    s.on('message', on);
  });
}

for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
  const name = transports.join('+');
  test(`${name}: text and binary messages echo in order`, async () => {
    const s = await open(transports);
    const msgs = ['hello', 'é€😀', '{"json":[1,2]}', 'x'.repeat(50000)];
    const bin = Uint8Array.from([0, 1, 2, 255]);
    const done = nextMessages(s, msgs.length + 1);
    for (const m of msgs) s.send(m);
    s.send(bin);
    const got = await done;
    assert.ok(got.slice(0, msgs.length).every((m, i) => m === msgs[i]), 'text echoes match');
    assert.deepEqual([...new Uint8Array(got[msgs.length])], [...bin]);
    s.close();
  });
}

test('upgrade: 500 messages sent during the upgrade arrive in order, both ways', async () => {
  const s = new Socket(roost.url, { path: '/engine.io/', transports: ['polling', 'websocket'] });
  const n = 500;
  const done = nextMessages(s, n);
  let upgraded = false;
  s.on('upgrade', () => { upgraded = true; });
  await new Promise((r) => s.on('open', r));
  for (let i = 0; i < n; i++) {
    s.send(`m${i}`);
    if (i % 50 === 0) await sleep(5);
  }
  const got = await done;
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => `m${i}`));
  await sleep(300);
  assert.ok(upgraded, 'the session moved to WebSocket');
  assert.equal(s.transport.name, 'websocket');
  s.close();
});

test('the open packet has exactly the reference keys', async () => {
  const res = await fetch(`${roost.url}/engine.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/plain; charset=UTF-8/i);
  const body = await res.text();
  assert.equal(body[0], '0');
  const open = JSON.parse(body.slice(1));
  assert.deepEqual(Object.keys(open), ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload']);
  assert.deepEqual(open.upgrades, ['websocket']);
  assert.equal(open.pingInterval, 300);
  assert.equal(open.pingTimeout, 1000);
  assert.equal(open.maxPayload, 100000);
  assert.ok(open.sid.length >= 20);
});

test('heartbeat keeps an idle session alive across many ping intervals', async () => {
  const s = await open(['websocket']);
  let closed = false;
  s.on('close', () => { closed = true; });
  await sleep(1500);
  assert.equal(closed, false);
  const echo = nextMessages(s, 1);
  s.send('still here');
  assert.deepEqual(await echo, ['still here']);
  s.close();
});

async function handshake() {
  const res = await fetch(`${roost.url}/engine.io/?EIO=4&transport=polling`);
  return JSON.parse((await res.text()).slice(1)).sid;
}

test('a silent polling client is closed after pingInterval + pingTimeout', async () => {
  const sid = await handshake();
  await sleep(2000);
  const res = await fetch(`${roost.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`);
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { code: 1, message: 'Session ID unknown' });
});

test('the server pings over polling and a pong keeps the session', async () => {
  // A generous pong deadline: a slow (sanitized, loaded) test client must not lose the session.
  const other = await startRoost({ args: ['--conformance', '--ping-interval', '300', '--ping-timeout', '3000'] });
  const res = await fetch(`${other.url}/engine.io/?EIO=4&transport=polling`);
  const sid = JSON.parse((await res.text()).slice(1)).sid;
  const url = `${other.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
  const poll = await fetch(url);
  assert.equal(await poll.text(), '2');
  const pong = await fetch(url, { method: 'POST', body: '3' });
  assert.equal(await pong.text(), 'ok');
  assert.equal(await (await fetch(url)).text(), '2');
  await other.stop();
  await other.cleanup();
});

test('errors: codes 0-5 with the reference statuses and messages', async () => {
  const u = roost.url;
  const check = async (url, init, status, body) => {
    const res = await fetch(url, init);
    assert.equal(res.status, status, url);
    assert.deepEqual(await res.json(), body, url);
  };
  await check(`${u}/engine.io/?EIO=4&transport=carrier-pigeon`, {}, 400, { code: 0, message: 'Transport unknown' });
  await check(`${u}/engine.io/?EIO=4&transport=polling&sid=nope`, {}, 400, { code: 1, message: 'Session ID unknown' });
  await check(`${u}/engine.io/?EIO=4&transport=polling`, { method: 'POST', body: '4x' }, 400, { code: 2, message: 'Bad handshake method' });
  await check(`${u}/engine.io/?EIO=4&transport=websocket`, {}, 400, { code: 3, message: 'Bad request' });
  await check(`${u}/engine.io/?EIO=4&transport=polling`, { headers: { Origin: 'http://evil.example' } }, 403, { code: 4, message: 'Forbidden' });
  await check(`${u}/engine.io/?EIO=3&transport=polling`, {}, 400, { code: 5, message: 'Unsupported protocol version' });
});

test('two concurrent GETs: the second gets 400 and the session closes', async () => {
  const sid = await handshake();
  const url = `${roost.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
  const first = fetch(url);
  await sleep(50);
  const second = await fetch(url);
  assert.equal(second.status, 400);
  const r1 = await first;
  assert.equal(await r1.text(), '1', 'the waiting poll learns the session closed');
  const after = await fetch(url);
  assert.equal(after.status, 400);
});

test('POST over maxPayload gets 413; octet-stream is refused', async () => {
  const sid = await handshake();
  const url = `${roost.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
  const big = await fetch(url, { method: 'POST', body: '4' + 'x'.repeat(200000) });
  assert.equal(big.status, 413);
  const sid2 = await handshake();
  const oct = await fetch(`${roost.url}/engine.io/?EIO=4&transport=polling&sid=${sid2}`, {
    method: 'POST', body: '4x', headers: { 'Content-Type': 'application/octet-stream' },
  });
  assert.equal(oct.status, 400);
});

test('a malformed polling payload closes the session with a parse error', async () => {
  const sid = await handshake();
  const url = `${roost.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
  const bad = await fetch(url, { method: 'POST', body: '9nonsense' });
  assert.equal(bad.status, 400);
  const after = await fetch(url);
  assert.equal(after.status, 400);
});

test('a client close packet ends the session', async () => {
  const sid = await handshake();
  const url = `${roost.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
  assert.equal(await (await fetch(url, { method: 'POST', body: '1' })).text(), 'ok');
  assert.equal((await fetch(url)).status, 400);
});

test('after an upgrade, polling with that sid gets 400 and a second WebSocket is refused', async () => {
  const s = new Socket(roost.url, { path: '/engine.io/', transports: ['polling', 'websocket'] });
  await new Promise((r) => s.on('upgrade', r));
  const url = `${roost.url}/engine.io/?EIO=4&transport=polling&sid=${s.id}`;
  assert.equal((await fetch(url)).status, 400);
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(`ws://127.0.0.1:${roost.port}/engine.io/?EIO=4&transport=websocket&sid=${s.id}`);
  const status = await new Promise((resolve) => {
    ws.on('unexpected-response', (req, res) => resolve(res.statusCode));
    ws.on('open', () => resolve(101));
  });
  assert.equal(status, 400);
  s.close();
});

test('restarting the server: a connected client sees close', async () => {
  const other = await startRoost({ args: ['--conformance'] });
  const s = new Socket(other.url, { path: '/engine.io/', transports: ['websocket'] });
  await new Promise((r) => s.on('open', r));
  const closed = new Promise((r) => s.on('close', (reason) => r(reason)));
  await other.stop();
  assert.match(await closed, /transport close|transport error/);
  await other.cleanup();
});

test('a flood of tiny messages closes only the flooding session (per-session rate limit)', async () => {
  const other = await startRoost({ args: ['--conformance', '--max-message-rate', '50'] });
  const open2 = (transports) => new Promise((resolve, reject) => {
    const s = new Socket(other.url, { path: '/engine.io/', transports });
    s.on('open', () => resolve(s));
    s.on('error', reject);
  });
  const flooder = await open2(['websocket']);
  const calm = await open2(['websocket']);
  const closed = new Promise((r) => flooder.on('close', (reason) => r(reason)));
  for (let i = 0; i < 400; i++) flooder.send('x');
  assert.ok(await closed);
  const echo = nextMessages(calm, 1);
  calm.send('fine');
  assert.deepEqual(await echo, ['fine']);
  calm.close();
  await other.stop();
  await other.cleanup();
});
