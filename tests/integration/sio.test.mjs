// Socket.IO v5 with the real socket.io-client against roost's conformance mode: namespaces,
// events of every JSON kind and binary, acks both ways, middleware, rooms, broadcasts,
// volatile, malformed packets, reconnection and connection-state recovery.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { startRoost, sleep, sanitized, underValgrind } from './lib/roost.mjs';

let roost;
before(async () => {
  roost = await startRoost({ args: ['--conformance', '--ping-interval', '2000', '--ping-timeout', '2000'] });
});
after(async () => {
  await roost.stop();
  await roost.cleanup();
});

const clients = [];
function connect(nsp = '/', opts = {}) {
  const s = io(roost.url + nsp, { forceNew: true, reconnection: false, ...opts });
  clients.push(s);
  return s;
}
const once = (s, ev) => new Promise((resolve) => s.once(ev, (...a) => resolve(a)));
async function connected(s) {
  if (s.connected) return s;
  const [err] = await Promise.race([once(s, 'connect').then(() => [null]), once(s, 'connect_error')]);
  if (err) throw err;
  return s;
}
after(() => clients.forEach((c) => c.close()));
// emit with an acknowledgement, resolving with every argument of the ack
const ackAll = (s, ...args) => new Promise((resolve) => s.emit(...args, (...reply) => resolve(reply)));

const values = [
  'hello', 42, -1.5, 0, true, false, null, 'é€😀 ünïcödé',
  { a: 1, nested: { deep: [1, 2, { x: 'y' }] } }, [1, 'two', [3]], '', 'x'.repeat(20000),
];

for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
  describe(`transport ${transports.join('+')}`, () => {
    test('connects to / and /custom and gets auth back', async () => {
      const a = connect('/', { transports, auth: { token: 'abc' } });
      const authA = once(a, 'auth');
      await connected(a);
      const [auth] = await authA;
      assert.deepEqual(auth, { token: 'abc' });
      const b = connect('/custom', { transports });
      const [authB] = await once(b, 'auth');
      assert.deepEqual(authB, {});
      a.close();
      b.close();
    });

    test('message -> message-back with every JSON kind and Buffers', async () => {
      const s = await connected(connect('/', { transports }));
      const bin = Buffer.from([1, 2, 3, 250]);
      s.emit('message', ...values, bin, { file: Buffer.from('xyz') });
      const back = await once(s, 'message-back');
      assert.deepEqual(back.slice(0, values.length), values);
      assert.deepEqual([...back[values.length]], [...bin]);
      assert.equal(Buffer.from(back[values.length + 1].file).toString(), 'xyz');
      s.close();
    });

    test('acks: client->server with binary, server->client with reply and timeout', async () => {
      const s = await connected(connect('/', { transports }));
      const reply = await ackAll(s, 'message-with-ack', 1, 'two', Buffer.from([9]));
      assert.equal(reply[0], 1);
      assert.equal(reply[1], 'two');
      assert.deepEqual([...reply[2]], [9]);
      s.on('question', (x, cb) => cb(x * 2, 'ok'));
      assert.deepEqual(await ackAll(s, 'test:ask', 2000, 'question', 21), [42, 'ok']);
      s.on('ignored', () => {});
      assert.deepEqual(await ackAll(s, 'test:ask', 200, 'ignored'), ['timeout']);
      s.close();
    });
  });
}

test('an unknown namespace gets connect_error "Invalid namespace"', async () => {
  const s = connect('/nope');
  const [err] = await once(s, 'connect_error');
  assert.equal(err.message, 'Invalid namespace');
});

test('middleware refuses with message and data, and accepts a good token', async () => {
  const bad = connect('/test-private', { auth: { token: 'wrong' } });
  const [err] = await once(bad, 'connect_error');
  assert.equal(err.message, 'unauthorized');
  assert.deepEqual(err.data, { reason: 'bad token' });
  const good = await connected(connect('/test-private', { auth: { token: 'secret' } }));
  assert.ok(good.connected);
  good.close();
});

test('dynamic namespaces are created on first connect', async () => {
  const s = await connected(connect('/test-dyn-42'));
  s.emit('message', 'dyn');
  assert.deepEqual(await once(s, 'message-back'), ['dyn']);
  s.close();
});

test('broadcast reaches every client of the namespace once, and no other namespace', async () => {
  const a = await connected(connect('/'));
  const b = await connected(connect('/'));
  const c = await connected(connect('/custom'));
  let cGot = 0;
  c.on('broadcast-back', () => cGot++);
  const pa = once(a, 'broadcast-back');
  const pb = once(b, 'broadcast-back');
  a.emit('broadcast', 'all', Buffer.from([7]));
  const [ra, rb] = await Promise.all([pa, pb]);
  assert.equal(ra[0], 'all');
  assert.deepEqual([...rb[1]], [7]);
  await sleep(100);
  assert.equal(cGot, 0);
  [a, b, c].forEach((x) => x.close());
});

test('rooms with 1,000 clients: each gets exactly the broadcasts for its rooms, except honoured', async () => {
  // Under the sanitizers the same test runs with fewer clients to stay within its time.
  const n = sanitized ? 200 : 1000;
  const socks = [];
  for (let i = 0; i < n; i++) socks.push(connect('/', { transports: ['websocket'] }));
  await Promise.all(socks.map(connected));
  const counts = new Map(socks.map((s) => [s, { even: 0, odd: 0, all: 0 }]));
  for (const s of socks) {
    s.on('room-msg', (tag) => counts.get(s)[tag]++);
  }
  await Promise.all(socks.map((s, i) => s.emitWithAck('test:join', i % 2 ? 'odd' : 'even')));
  await Promise.all(socks.slice(0, 10).map((s) => s.emitWithAck('test:join', 'vip')));
  const sender = socks[0];
  await sender.emitWithAck('test:to', { rooms: ['even'] }, 'room-msg', 'even');
  await sender.emitWithAck('test:to', { rooms: ['odd'] }, 'room-msg', 'odd');
  // both rooms, minus the vip room: every socket once except the 10 vips
  await sender.emitWithAck('test:to', { rooms: ['even', 'odd'], except: ['vip'] }, 'room-msg', 'all');
  await sleep(500);
  socks.forEach((s, i) => {
    const c = counts.get(s);
    assert.equal(c.even, i % 2 ? 0 : 1, `socket ${i} even`);
    assert.equal(c.odd, i % 2 ? 1 : 0, `socket ${i} odd`);
    assert.equal(c.all, i < 10 ? 0 : 1, `socket ${i} all`);
  });
  // a socket id is a room of its own
  const target = socks[Math.floor(n / 2)];
  const got = once(target, 'direct');
  await sender.emitWithAck('test:to', { rooms: [target.id] }, 'direct', 'hi');
  assert.deepEqual(await got, ['hi']);
  socks.forEach((s) => s.close());
});

test('leave stops delivery; skipSelf excludes the sender', async () => {
  const a = await connected(connect('/'));
  const b = await connected(connect('/'));
  await a.emitWithAck('test:join', 'r');
  await b.emitWithAck('test:join', 'r');
  let aGot = 0;
  let bGot = 0;
  a.on('ev', () => aGot++);
  b.on('ev', () => bGot++);
  await a.emitWithAck('test:to', { rooms: ['r'], skipSelf: true }, 'ev');
  await sleep(100);
  assert.deepEqual([aGot, bGot], [0, 1]);
  await b.emitWithAck('test:leave', 'r');
  await a.emitWithAck('test:to', { rooms: ['r'] }, 'ev');
  await sleep(100);
  assert.deepEqual([aGot, bGot], [1, 1]);
  a.close();
  b.close();
});

// 12 MB through a roost 30x slower outlasts the sender's heartbeat: not a memory question.
test('volatile broadcasts are dropped for a client that cannot take them now', { skip: underValgrind && 'too slow under memcheck' }, async () => {
  // A raw WebSocket client that never reads: its output backs up, volatile events are dropped.
  const ws = new WebSocket(`ws://127.0.0.1:${roost.port}/socket.io/?EIO=4&transport=websocket`);
  await once(ws, 'open');
  ws.send('40');
  await sleep(100);
  ws._socket.pause();
  const sender = await connected(connect('/', { transports: ['websocket'] }));
  const big = 'v'.repeat(60000);
  for (let i = 0; i < 200; i++) sender.emit('test:to', { volatile: true, skipSelf: true }, 'vol', big);
  await sender.emitWithAck('test:to', { rooms: ['none'] }, 'noop');
  await sleep(300);
  const metrics = await (await fetch(`${roost.url}/metrics`)).text().catch(() => '');
  ws._socket.resume();
  ws.terminate();
  sender.close();
  assert.match(metrics, /roost_sio_volatile_dropped_total [1-9]/);
});

test('server-side disconnect: the client sees "io server disconnect"', async () => {
  const s = await connected(connect('/'));
  const reason = once(s, 'disconnect');
  s.emit('test:disconnect', false);
  assert.deepEqual((await reason)[0], 'io server disconnect');
});

describe('malformed packets close only the offending client', () => {
  const bad = [
    '42invalid', '2["connect"]', '42["disconnect"]', '42[]', '42{"a":1}', '43["x"]',
    '451-["a",{"_placeholder":true,"num":5}]', '4511-["a"]', '42["a",' + '['.repeat(100),
    '49', '42/nope,["x"]', '40', 'z',
  ];
  for (const pkt of bad) {
    test(JSON.stringify(pkt).slice(0, 40), async () => {
      const good = await connected(connect('/'));
      const ws = new WebSocket(`ws://127.0.0.1:${roost.port}/socket.io/?EIO=4&transport=websocket`);
      const joined = new Promise((r) => ws.on('message', (m) => m.toString().startsWith('40') && r()));
      await once(ws, 'open');
      ws.send('40');
      await joined;
      const closed = once(ws, 'close');
      ws.send(pkt);
      if (pkt.startsWith('451')) ws.send(Buffer.from([1]));
      await Promise.race([closed, sleep(3000).then(() => { throw new Error('not closed'); })]);
      good.emit('message', 'alive');
      assert.deepEqual(await once(good, 'message-back'), ['alive']);
      good.close();
    });
  }
});

test('more than 10 attachments closes the client', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${roost.port}/socket.io/?EIO=4&transport=websocket`);
  await once(ws, 'open');
  ws.send('40');
  const closed = once(ws, 'close');
  ws.send('4510000-["a"]');
  await closed;
});

describe('reconnection as the platform client uses it', () => {
  test('reconnects when roost restarts within the window', async () => {
    const other = await startRoost({ args: ['--conformance'] });
    const s = io(other.url, { forceNew: true, reconnectionAttempts: 5, reconnectionDelay: 1000,
      reconnectionDelayMax: 1000, randomizationFactor: 0, transports: ['websocket'] });
    await once(s, 'connect');
    const reconnected = once(s.io, 'reconnect');
    await other.stop();
    await sleep(300);
    await other.restart();
    const [attempt] = await reconnected;
    assert.ok(attempt >= 1 && attempt <= 5);
    s.emit('message', 'back');
    assert.deepEqual(await once(s, 'message-back'), ['back']);
    s.close();
    await other.stop();
    await other.cleanup();
  });

  test('emits reconnect_failed after 5 attempts spaced 1000 ms apart', async () => {
    const other = await startRoost({ args: ['--conformance'] });
    const s = io(other.url, { forceNew: true, reconnectionAttempts: 5, reconnectionDelay: 1000,
      reconnectionDelayMax: 1000, randomizationFactor: 0, transports: ['websocket'] });
    await once(s, 'connect');
    const times = [];
    s.io.on('reconnect_attempt', () => times.push(Date.now()));
    const failed = once(s.io, 'reconnect_failed');
    await other.stop();
    await failed;
    assert.equal(times.length, 5);
    for (let i = 1; i < times.length; i++) {
      const gap = times[i] - times[i - 1];
      assert.ok(gap >= 900 && gap < 2000, `gap ${gap}`);
    }
    s.close();
    await other.cleanup();
  });
});

test('connection-state recovery: missed broadcasts arrive in order with the same id', async () => {
  const other = await startRoost({ args: ['--conformance', '--recovery'] });
  const s = io(other.url, { forceNew: true, transports: ['websocket'], reconnectionDelay: 100,
    reconnectionDelayMax: 100 });
  await once(s, 'connect');
  await s.emitWithAck('test:join', 'news');
  const sender = io(other.url, { forceNew: true, transports: ['websocket'] });
  await once(sender, 'connect');
  const got = [];
  s.on('news', (n) => got.push(n));
  await sender.emitWithAck('test:to', { rooms: ['news'] }, 'news', 0);
  await sleep(100);
  const id = s.id;
  s.io.engine.close(); // cut the transport: the client reconnects by itself
  for (let i = 1; i <= 5; i++) await sender.emitWithAck('test:to', { rooms: ['news'] }, 'news', i);
  await once(s, 'connect');
  assert.equal(s.recovered, true);
  assert.equal(s.id, id);
  await sleep(200);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
  // rooms came back too
  await sender.emitWithAck('test:to', { rooms: ['news'] }, 'news', 6);
  await sleep(100);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6]);
  s.close();
  sender.close();
  await other.stop();
  await other.cleanup();
});
