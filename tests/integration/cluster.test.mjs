// Scale-out: roost nodes sharing broadcasts through Redis in the wire format of the official
// @socket.io/redis-adapter 8, interoperating with @socket.io/redis-emitter and a Node.js
// socket.io 4.8 server using the official adapter; Redis restarts; nginx in front with sticky
// routing (docs/nginx.conf) and a node killed under it.
//
// Everything runs on loopback: a throwaway redis-server, two roost nodes in --conformance mode
// (namespace "/": `broadcast` -> `broadcast-back` to everyone, `test:join`, `test:to`), nginx.
// The last block runs the platform itself on two nodes sharing PostgreSQL (ROOST_TEST_PG, or a
// server of its own from scripts/pg-test.sh) and another Redis: presence and logout across
// nodes, a node killed with kill -9 or stalled, and the adapter's counters in /metrics.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { io } from 'socket.io-client';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Emitter } from '@socket.io/redis-emitter';
import { createClient } from 'redis';
import { startRoost, sleep, sanitized, repoRoot } from './lib/roost.mjs';
import { startRedis, startNginx, redisCommand } from './lib/services.mjs';
import { client as gqlClient, authedSocket, closeSockets, until } from './lib/gql.mjs';

const SLOW = sanitized ? 3 : 1;
let redis, n1, n2;
const clients = [];

function roostArgs() {
  return ['--conformance', '--adapter', redis.url, '--ping-interval', '5000', '--ping-timeout', '5000'];
}

before(async () => {
  redis = await startRedis();
  [n1, n2] = await Promise.all([startRoost({ args: roostArgs() }), startRoost({ args: roostArgs() })]);
});
after(async () => {
  clients.forEach((c) => c.close());
  for (const n of [n1, n2]) {
    if (!n) continue;
    if (n.process.exitCode === null && n.process.signalCode === null) await n.stop();
    await n.cleanup();
  }
  await redis?.stop();
});

// Clients of the current describe block, closed when it ends (a later broadcast with acks must
// not count sockets that do not answer).
function closeClients() {
  while (clients.length) clients.pop().close();
}

function connect(url, opts = {}) {
  const s = io(url, { forceNew: true, reconnection: false, transports: ['websocket'], ...opts });
  clients.push(s);
  return s;
}
async function connected(s) {
  if (s.connected) return s;
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  return s;
}
// Record every event a socket receives: rec.list(name) -> [args, ...]
function recorder(s) {
  const got = [];
  s.onAny((name, ...args) => got.push({ name, args }));
  return { list: (name) => got.filter((e) => e.name === name).map((e) => e.args), all: got };
}
async function waitUntil(fn, ms = 5000 * SLOW, step = 25) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return v;
    await sleep(step);
  }
}
// Time for anything that should NOT arrive to have arrived (a duplicate, an excluded socket).
const settle = () => sleep(300 * SLOW);
const join = (s, room) => s.timeout(5000).emitWithAck('test:join', room);

describe('broadcasts between roost nodes', () => {
  after(closeClients);
  let a1, a2, b1, b2, ra1, ra2, rb1, rb2;
  before(async () => {
    // Two clients per node (each node has two workers, so members spread over workers too).
    [a1, a2, b1, b2] = await Promise.all([
      connected(connect(n1.url)), connected(connect(n1.url, { transports: ['polling'] })),
      connected(connect(n2.url)), connected(connect(n2.url, { transports: ['polling'] })),
    ]);
    [ra1, ra2, rb1, rb2] = [a1, a2, b1, b2].map(recorder);
  });

  test('a broadcast from node 1 reaches every client of both nodes exactly once', async () => {
    a1.emit('broadcast', 'hello', 1, 2.5, -7, null, true, { k: ['v', { deep: 0.1 }] }, 'é€😀');
    const recs = [ra1, ra2, rb1, rb2];
    await waitUntil(() => recs.every((r) => r.list('broadcast-back').length >= 1));
    await settle();
    for (const r of recs) {
      assert.equal(r.list('broadcast-back').length, 1);
      assert.deepEqual(r.list('broadcast-back')[0], ['hello', 1, 2.5, -7, null, true, { k: ['v', { deep: 0.1 }] }, 'é€😀']);
    }
  });

  test('binary arguments cross nodes intact (placeholders <-> msgpack bin)', async () => {
    const bin = Buffer.from([0, 1, 2, 253, 254, 255]);
    b2.emit('broadcast', 'bin', bin, { nested: Buffer.from('xyz') }, [Buffer.alloc(0)]);
    await waitUntil(() => [ra1, ra2, rb1, rb2].every((r) => r.list('broadcast-back').some((a) => a[0] === 'bin')));
    await settle();
    for (const r of [ra1, ra2, rb1, rb2]) {
      const got = r.list('broadcast-back').filter((a) => a[0] === 'bin');
      assert.equal(got.length, 1);
      assert.deepEqual([...got[0][1]], [...bin]);
      assert.equal(Buffer.from(got[0][2].nested).toString(), 'xyz');
      assert.equal(Buffer.from(got[0][3][0]).length, 0);
    }
  });

  test('rooms spread over nodes get each broadcast once; except and skip-self apply everywhere', async () => {
    assert.equal(await join(a1, 'red'), true);
    assert.equal(await join(b1, 'red'), true);
    assert.equal(await join(b2, 'red'), true);
    assert.equal(await join(b2, 'blue'), true);
    assert.equal(await join(a2, 'blue'), true);

    // to red + blue: a1, b1, b2 (in both rooms: once), a2
    await a1.timeout(5000).emitWithAck('test:to', { rooms: ['red', 'blue'] }, 'rooms-1', 'x');
    // to red except blue: a1, b1
    await a2.timeout(5000).emitWithAck('test:to', { rooms: ['red'], except: ['blue'] }, 'rooms-2');
    // to red, skipping the sender (b1): a1, b2
    await b1.timeout(5000).emitWithAck('test:to', { rooms: ['red'], skipSelf: true }, 'rooms-3');
    // to a socket id of the other node (its implicit room)
    await a1.timeout(5000).emitWithAck('test:to', { rooms: [b2.id] }, 'rooms-4');
    // everyone except the room blue
    await b1.timeout(5000).emitWithAck('test:to', { except: ['blue'] }, 'rooms-5');
    const expect = {
      'rooms-1': [ra1, ra2, rb1, rb2], 'rooms-2': [ra1, rb1], 'rooms-3': [ra1, rb2],
      'rooms-4': [rb2], 'rooms-5': [ra1, rb1],
    };
    await waitUntil(() => Object.entries(expect).every(([ev, rs]) => rs.every((r) => r.list(ev).length >= 1)));
    await settle();
    for (const [ev, rs] of Object.entries(expect)) {
      for (const r of [ra1, ra2, rb1, rb2]) {
        assert.equal(r.list(ev).length, rs.includes(r) ? 1 : 0, `${ev} to ${[ra1, ra2, rb1, rb2].indexOf(r)}`);
      }
    }
    assert.deepEqual(ra2.list('rooms-1')[0], ['x']);
  });

  test('a volatile broadcast crosses nodes too', async () => {
    await a1.timeout(5000).emitWithAck('test:to', { rooms: ['blue'], volatile: true }, 'vol');
    await waitUntil(() => rb2.list('vol').length && ra2.list('vol').length);
    assert.equal(rb2.list('vol').length, 1);
    assert.equal(ra2.list('vol').length, 1);
  });

  test('messages that are not the adapter format are ignored (the nodes stay up)', async () => {
    await redisCommand(redis.port, 'PUBLISH', 'socket.io#/#', 'garbage');
    await redisCommand(redis.port, 'PUBLISH', 'socket.io#/#', '\x93\xa1x\x81\xa4type\x02');
    await redisCommand(redis.port, 'PUBLISH', 'socket.io-request#/#', '{"type":0}');
    await redisCommand(redis.port, 'PUBLISH', 'socket.io-request#/#', '\xdd\xff\xff\xff\xff');
    a1.emit('broadcast', 'still-alive');
    await waitUntil(() => rb1.list('broadcast-back').some((a) => a[0] === 'still-alive'));
    assert.ok(rb1.list('broadcast-back').some((a) => a[0] === 'still-alive'));
  });
});

describe('interop with @socket.io/redis-emitter', () => {
  after(closeClients);
  let pub, emitter, a, b, c, ra, rb, rc;
  before(async () => {
    pub = createClient({ url: redis.url });
    await pub.connect();
    emitter = new Emitter(pub);
    [a, b, c] = await Promise.all([connected(connect(n1.url)), connected(connect(n2.url)), connected(connect(n2.url))]);
    [ra, rb, rc] = [a, b, c].map(recorder);
    await join(a, 'news');
    await join(b, 'news');
  });
  after(async () => {
    await pub?.quit();
  });

  test('an emit to a room reaches the room members on every roost node (text and binary)', async () => {
    const when = new Date(Date.UTC(2024, 1, 29, 12, 30, 45, 678));
    emitter.to('news').emit('headline', 'text', 42, 1.25, { tags: ['a', 'b'] }, Buffer.from([1, 2, 3]), when);
    await waitUntil(() => ra.list('headline').length && rb.list('headline').length);
    await settle();
    for (const r of [ra, rb]) {
      const got = r.list('headline');
      assert.equal(got.length, 1);
      const [t, n, f, o, bin, date] = got[0];
      assert.deepEqual([t, n, f, o], ['text', 42, 1.25, { tags: ['a', 'b'] }]);
      assert.deepEqual([...bin], [1, 2, 3]);
      assert.equal(date, '2024-02-29T12:30:45.678Z'); // a Date arrives as JSON.stringify makes it
    }
    assert.equal(rc.list('headline').length, 0);
  });

  test('emit to all, except a room, and to several rooms', async () => {
    emitter.emit('all', 1);
    emitter.except('news').emit('not-news', 2);
    emitter.to(['news', c.id]).emit('multi', 3);
    await waitUntil(() => rc.list('multi').length && ra.list('multi').length && rb.list('multi').length);
    await settle();
    for (const r of [ra, rb, rc]) assert.deepEqual(r.list('all'), [[1]]);
    assert.deepEqual(rc.list('not-news'), [[2]]);
    assert.equal(ra.list('not-news').length + rb.list('not-news').length, 0);
    for (const r of [ra, rb, rc]) assert.deepEqual(r.list('multi'), [[3]]);
  });

  test('socketsJoin / socketsLeave / disconnectSockets requests act on roost sockets', async () => {
    emitter.in('news').socketsJoin('joined');
    await sleep(200 * SLOW);
    emitter.to('joined').emit('after-join', 'yes');
    await waitUntil(() => ra.list('after-join').length && rb.list('after-join').length);
    assert.equal(rc.list('after-join').length, 0);
    emitter.in('joined').socketsLeave('joined');
    await sleep(200 * SLOW);
    emitter.to('joined').emit('after-leave', 'no');
    await settle();
    assert.equal(ra.list('after-leave').length + rb.list('after-leave').length, 0);
    const gone = new Promise((resolve) => c.once('disconnect', resolve));
    emitter.in(c.id).disconnectSockets();
    assert.equal(await gone, 'io server disconnect');
  });
});

describe('a Node.js socket.io 4.8 server with @socket.io/redis-adapter 8 in the cluster', () => {
  after(closeClients);
  let pubClient, subClient, httpServer, nio, nodeUrl, a, b, n, ra, rb, rn;
  before(async () => {
    pubClient = createClient({ url: redis.url });
    subClient = pubClient.duplicate();
    await Promise.all([pubClient.connect(), subClient.connect()]);
    httpServer = http.createServer();
    nio = new Server(httpServer, { adapter: createAdapter(pubClient, subClient, { requestsTimeout: 3000 * SLOW }) });
    nio.on('connection', (s) => {
      s.on('broadcast', (...args) => nio.emit('broadcast-back', ...args));
      s.on('test:join', (room, cb) => { s.join(room); cb?.(true); });
    });
    await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
    nodeUrl = `http://127.0.0.1:${httpServer.address().port}`;
    [a, b, n] = await Promise.all([connected(connect(n1.url)), connected(connect(n2.url)), connected(connect(nodeUrl))]);
    [ra, rb, rn] = [a, b, n].map(recorder);
    await join(a, 'mixed');
    await join(n, 'mixed');
    await join(b, 'roost-only');
  });
  after(async () => {
    nio?.close();
    await Promise.allSettled([pubClient?.quit(), subClient?.quit()]);
  });

  test('the Node server counts the roost nodes (PUBSUB NUMSUB on its request channel)', async () => {
    assert.equal(await nio.of('/').adapter.serverCount(), 3);
  });

  test('broadcasts flow both ways', async () => {
    nio.emit('from-node', 'hi', Buffer.from([5, 6]));
    a.emit('broadcast', 'from-roost', Buffer.from([7]));
    await waitUntil(() => [ra, rb, rn].every((r) => r.list('from-node').length && r.list('broadcast-back').some((x) => x[0] === 'from-roost')));
    await settle();
    for (const r of [ra, rb, rn]) {
      assert.equal(r.list('from-node').length, 1);
      assert.equal(r.list('from-node')[0][0], 'hi');
      assert.deepEqual([...r.list('from-node')[0][1]], [5, 6]);
      const back = r.list('broadcast-back').filter((x) => x[0] === 'from-roost');
      assert.equal(back.length, 1);
      assert.deepEqual([...back[0][1]], [7]);
    }
    // Node -> roost to one room, and a Node client's broadcast reaching roost clients
    nio.to('mixed').emit('to-mixed', { ok: true });
    n.emit('broadcast', 'from-node-client');
    await waitUntil(() => ra.list('to-mixed').length && rn.list('to-mixed').length &&
      rb.list('broadcast-back').some((x) => x[0] === 'from-node-client'));
    await settle();
    assert.deepEqual(ra.list('to-mixed'), [[{ ok: true }]]);
    assert.equal(rb.list('to-mixed').length, 0);
    assert.equal(ra.list('broadcast-back').filter((x) => x[0] === 'from-node-client').length, 1);
  });

  test('fetchSockets() lists roost sockets with their rooms; allRooms() includes roost rooms', async () => {
    const all = await nio.fetchSockets();
    const ids = all.map((s) => s.id);
    for (const s of [a, b, n]) assert.ok(ids.includes(s.id), `${s.id} in ${ids}`);
    const sa = all.find((s) => s.id === a.id);
    assert.deepEqual([...sa.rooms].sort(), [a.id, 'mixed'].sort());
    assert.equal(sa.handshake.address, '127.0.0.1');
    const inMixed = await nio.in('mixed').fetchSockets();
    assert.deepEqual(inMixed.map((s) => s.id).sort(), [a.id, n.id].sort());
    const exceptMixed = await nio.except('mixed').fetchSockets();
    assert.ok(exceptMixed.some((s) => s.id === b.id));
    assert.ok(!exceptMixed.some((s) => s.id === a.id));
    const rooms = await nio.of('/').adapter.allRooms();
    for (const r of ['mixed', 'roost-only', a.id, b.id]) assert.ok(rooms.has(r), `${r} in allRooms`);
  });

  test('raw requests: SOCKETS (older adapters), ALL_ROOMS, and single-socket REMOTE_JOIN answered', async () => {
    const listener = pubClient.duplicate();
    await listener.connect();
    const responses = [];
    await listener.subscribe('socket.io-response#/#', (msg) => responses.push(JSON.parse(msg)));
    const ask = (req) => pubClient.publish('socket.io-request#/#', JSON.stringify({ uid: 'test', ...req }));
    await ask({ type: 0, requestId: 'sockets-1', rooms: ['roost-only'] });
    await ask({ type: 1, requestId: 'rooms-1' });
    await ask({ type: 2, requestId: 'join-1', sid: a.id, room: 'single' });
    await waitUntil(() => responses.filter((r) => r.requestId === 'rooms-1').length >= 2 &&
      responses.some((r) => r.requestId === 'join-1'));
    await settle();
    const sockets = responses.filter((r) => r.requestId === 'sockets-1');
    assert.equal(sockets.length, 3); // every server answers; only node 2 has the socket
    assert.deepEqual(sockets.flatMap((r) => r.sockets), [b.id]);
    const rooms = responses.filter((r) => r.requestId === 'rooms-1').flatMap((r) => r.rooms);
    assert.ok(rooms.includes('roost-only') && rooms.includes('mixed'));
    assert.equal(responses.filter((r) => r.requestId === 'join-1').length, 1); // only a's node
    assert.ok((await nio.in('single').fetchSockets()).some((s) => s.id === a.id));
    await listener.quit();
  });

  test('remote socket operations from Node act on roost sockets', async () => {
    nio.in('roost-only').socketsJoin('via-node');
    await waitUntil(async () => (await nio.of('/').adapter.allRooms()).has('via-node'));
    nio.to('via-node').emit('joined-via-node', 1);
    await waitUntil(() => rb.list('joined-via-node').length);
    assert.deepEqual(rb.list('joined-via-node'), [[1]]);
    const [remote] = await nio.in(b.id).fetchSockets();
    remote.leave('via-node');
    await waitUntil(async () => !(await nio.of('/').adapter.allRooms()).has('via-node'));
    assert.ok(!(await nio.of('/').adapter.allRooms()).has('via-node'));
  });

  test('emitWithAck from Node collects the answers of roost clients (BROADCAST with acks)', async () => {
    for (const s of [a, b, n]) s.on('question', (x, cb) => cb({ from: s.id, x: x * 2, bin: Buffer.from([x]) }));
    const answers = await nio.timeout(5000 * SLOW).emitWithAck('question', 21);
    assert.equal(answers.length, 3);
    assert.deepEqual(answers.map((r) => r.from).sort(), [a.id, b.id, n.id].sort());
    for (const r of answers) {
      assert.equal(r.x, 42);
      assert.deepEqual([...r.bin], [21]);
    }
    const some = await nio.to('mixed').timeout(5000 * SLOW).emitWithAck('question', 1);
    assert.deepEqual(some.map((r) => r.from).sort(), [a.id, n.id].sort());
  });
});

describe('Redis restarted mid-test', () => {
  test('the cluster recovers: broadcasts flow between nodes again', async () => {
    const a = await connected(connect(n1.url));
    const b = await connected(connect(n2.url));
    const ra = recorder(a), rb = recorder(b);
    a.emit('broadcast', 'before');
    await waitUntil(() => rb.list('broadcast-back').length);
    assert.equal(rb.list('broadcast-back').length, 1);

    await redis.stop();
    // Local delivery goes on without Redis; other nodes miss what is published meanwhile.
    a.emit('broadcast', 'during');
    await waitUntil(() => ra.list('broadcast-back').some((x) => x[0] === 'during'));
    await settle();
    assert.ok(!rb.list('broadcast-back').some((x) => x[0] === 'during'));

    await redis.start();
    // Reconnection backoff is at most 5 s: broadcast until one crosses again.
    const back = await waitUntil(() => {
      a.emit('broadcast', 'after');
      return rb.list('broadcast-back').some((x) => x[0] === 'after') &&
        ra.list('broadcast-back').length > 0;
    }, 15000 * SLOW, 250);
    assert.ok(back, 'broadcasts flow again after the restart');
    // and the other direction
    b.emit('broadcast', 'reverse');
    await waitUntil(() => ra.list('broadcast-back').some((x) => x[0] === 'reverse'));
    assert.ok(ra.list('broadcast-back').some((x) => x[0] === 'reverse'));
    // the nodes said what happened
    for (const n of [n1, n2]) {
      assert.match(n.logs(), /redis \S+ publisher: .*broadcasts to other nodes are dropped until it is back/);
      assert.match(n.logs(), /redis \S+ subscriber: .*from other nodes are lost until it is back/);
      assert.match(n.logs(), /redis publisher back after [\d.]+ s; \d+ broadcast\(s\) to other nodes were dropped meanwhile/);
      assert.match(n.logs(), /redis subscriber back after [\d.]+ s, resubscribed/);
    }
    a.close();
    b.close();
  });
});

describe('nginx in front (docs/nginx.conf): sticky long-polling, failover', () => {
  let lb;
  before(async () => {
    lb = await startNginx({ upstreams: [n1.port, n2.port] });
  });
  after(async () => {
    await lb?.stop();
  });

  // Clients from different loopback addresses, so `hash $remote_addr` spreads them over nodes
  // (16: the chance that the hash puts all on one node is 2^-15).
  const LB_CLIENTS = 16;
  const agents = [];
  function lbClient(i, opts = {}) {
    const agent = new http.Agent({ keepAlive: true, localAddress: `127.0.0.${10 + i}` });
    agents.push(agent);
    return connect(lb.url, { transports: ['polling'], agent, localAddress: `127.0.0.${10 + i}`, ...opts });
  }
  after(() => agents.forEach((a) => a.destroy()));

  async function pollingSessions(node) {
    const res = await fetch(`${node.url}/metrics`);
    const m = (await res.text()).match(/roost_eio_sessions\{transport="polling"\} (\d+)/);
    return Number(m[1]);
  }

  let lbClients;
  test('long-polling clients through nginx keep their session and reach both nodes', async () => {
    const before1 = await pollingSessions(n1), before2 = await pollingSessions(n2);
    lbClients = await Promise.all([...Array(LB_CLIENTS).keys()].map((i) => connected(lbClient(i, { reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 500 }))));
    const recs = lbClients.map(recorder);
    const sids = lbClients.map((s) => s.io.engine.id);
    // Several round trips each: with a non-sticky balancer a poll would hit the other node and
    // get "Session ID unknown".
    for (let round = 0; round < 3; round++) {
      lbClients[round].emit('broadcast', `round-${round}`);
      await waitUntil(() => recs.every((r) => r.list('broadcast-back').some((x) => x[0] === `round-${round}`)));
    }
    for (const r of recs) assert.equal(r.list('broadcast-back').length, 3);
    assert.deepEqual(lbClients.map((s) => s.io.engine.id), sids, 'same Engine.IO sessions');
    assert.ok(lbClients.every((s) => s.connected && s.io.engine.transport.name === 'polling'));
    // the clients are on both nodes (the broadcasts above crossed Redis)
    const d1 = (await pollingSessions(n1)) - before1, d2 = (await pollingSessions(n2)) - before2;
    assert.equal(d1 + d2, LB_CLIENTS);
    assert.ok(d1 > 0 && d2 > 0, `spread over nodes: ${d1} + ${d2}`);
  });

  test('one roost node killed: its clients reconnect through nginx to the other and keep chatting', async () => {
    const recs = lbClients.map(recorder);
    const onN2 = await pollingSessions(n2);
    assert.ok(onN2 > 0);
    await n2.kill9();
    // Every client is connected again (those of node 2 after a reconnect), all on node 1.
    const ok = await waitUntil(async () => lbClients.every((s) => s.connected) && (await pollingSessions(n1)) >= LB_CLIENTS, 20000 * SLOW, 100);
    assert.ok(ok, 'all clients reconnected');
    lbClients[0].emit('broadcast', 'after-failover');
    await waitUntil(() => recs.every((r) => r.list('broadcast-back').some((x) => x[0] === 'after-failover')));
    for (const r of recs) assert.equal(r.list('broadcast-back').filter((x) => x[0] === 'after-failover').length, 1);
    // WebSocket through nginx too (upgrade proxying)
    const ws = await connected(connect(lb.url, { transports: ['polling', 'websocket'] }));
    await waitUntil(() => ws.io.engine.transport.name === 'websocket');
    assert.equal(ws.io.engine.transport.name, 'websocket');
    const rw = recorder(ws);
    ws.emit('broadcast', 'over-ws');
    await waitUntil(() => rw.list('broadcast-back').length && recs[0].list('broadcast-back').some((x) => x[0] === 'over-ws'));
    assert.equal(rw.list('broadcast-back').length, 1);
  });
});

describe('the platform on two nodes (PostgreSQL, Redis): presence and logout across nodes', () => {
  // Short enough that the kill -9 test does not wait 30 s; long enough for a slow (ASan) node
  // to beat in time (every TTL/6).
  const TTL = 2000 * SLOW;
  let pgOwned = null, pgBase, schema, store, predis, p1, p2, g1, g2;
  const FOLLOW = 'mutation F($id: ID!) { followUnfollowUser(userId: $id) { following } }';
  const ONLINE = 'query U($id: ID!) { user(id: $id) { online } }';
  const online = async (g, who) => (await g.data(ONLINE, { id: who.user.id })).user.online;
  const psql = (sql) => execFileSync('psql', [pgBase, '-qAtc', sql], { encoding: 'utf8' });
  async function metric(node, name) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
    assert.ok(m, `${name} in /metrics of ${node.url}`);
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
    assert.match(text, new RegExp(`^# TYPE ${name} counter$`, 'm'));
    return Number(m[1]);
  }

  before(async () => {
    pgBase = process.env.ROOST_TEST_PG;
    if (!pgBase) {
      pgBase = execFileSync(path.join(repoRoot, 'scripts', 'pg-test.sh'), ['start'], { encoding: 'utf8' }).trim();
      pgOwned = pgBase;
    }
    // A schema of its own: other test files may share the database, and this block kills nodes.
    schema = `cluster_${process.pid}_${Date.now()}`;
    psql(`CREATE SCHEMA ${schema}`);
    store = `${pgBase}${pgBase.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
    predis = await startRedis();
    const args = ['--store', store, '--adapter', predis.url, '--presence-ttl', String(TTL)];
    [p1, p2] = await Promise.all([startRoost({ args }), startRoost({ args })]);
    g1 = gqlClient(p1.url);
    g2 = gqlClient(p2.url);
  });
  after(async () => {
    closeSockets();
    for (const n of [p1, p2]) {
      if (!n) continue;
      try { process.kill(n.pid, 'SIGCONT'); } catch {}
      if (n.process.exitCode === null && n.process.signalCode === null) await n.stop();
      await n.cleanup();
    }
    await predis?.stop();
    if (schema) try { psql(`DROP SCHEMA ${schema} CASCADE`); } catch {}
    if (pgOwned) execFileSync(path.join(repoRoot, 'scripts', 'pg-test.sh'), ['stop', pgOwned]);
  });

  test('a user whose only socket is on node 2 is online for node 1, and offline once it goes', async () => {
    const a = await g1.register('xa');
    assert.equal(await online(g1, a), false);
    const s = await authedSocket(p2.url, a);
    // `auth` true comes after the presence row committed: no wait needed.
    assert.equal(await online(g2, a), true);
    assert.equal(await online(g1, a), true);
    s.close();
    await until(async () => !(await online(g1, a)), 5000 * SLOW, 'offline on node 1');
    assert.equal(await online(g2, a), false);
    // and online through either node again when it comes back on node 1
    const s1 = await authedSocket(p1.url, a);
    assert.equal(await online(g2, a), true);
    s1.close();
    await until(async () => !(await online(g2, a)), 5000 * SLOW, 'offline on node 2');
  });

  test('logout through node 1: the same session\'s socket on node 2 is logged out and hears nothing more', async () => {
    const a = await g1.register('xl');
    const b = await g1.register('xf');
    const keep = await g1.login(a.name); // another session of the same user: the control
    const s = await authedSocket(p2.url, a);
    const control = await authedSocket(p2.url, keep);
    const auths = [], followedS = [], followedC = [];
    s.on('auth', (...x) => auths.push(x));
    s.on('followed', (p) => followedS.push(p));
    control.on('followed', (p) => followedC.push(p));
    // Before: a follow through node 1 reaches both sockets on node 2 (through Redis).
    await g1.data(FOLLOW, { id: a.user.id }, { creds: b });
    await until(() => followedS.length === 1 && followedC.length === 1, 5000 * SLOW, 'followed on node 2');
    await g1.data(FOLLOW, { id: a.user.id }, { creds: b }); // unfollow: silent
    const remoteBefore = await metric(p2, 'roost_remote_logouts_total');
    assert.deepEqual(await g1.data('mutation { logout }', {}, { creds: a }), { logout: true });
    await until(() => auths.length === 1, 5000 * SLOW, '`auth` false on node 2');
    assert.deepEqual(auths[0], [false, { reason: 'logged out' }]);
    assert.equal(await metric(p2, 'roost_remote_logouts_total'), remoteBefore + 1);
    // After: the control socket gets the next push, the logged-out one does not.
    await g1.data(FOLLOW, { id: a.user.id }, { creds: b });
    await until(() => followedC.length === 2, 5000 * SLOW, 'followed to the control socket');
    await settle();
    assert.equal(followedS.length, 1, 'nothing after the logout');
    assert.ok(s.connected, 'the socket stays connected, anonymous');
    assert.equal(control.connected, true);
    // The user is still online (the control session).
    assert.equal(await online(g1, a), true);
    s.close();
    control.close();
  });

  test('a malformed roost:revoke from another node is ignored', async () => {
    const a = await g1.register('xm');
    const s = await authedSocket(p2.url, a);
    const auths = [];
    s.on('auth', (...x) => auths.push(x));
    const ask = (data) => redisCommand(predis.port, 'PUBLISH', 'socket.io-request#/#',
      JSON.stringify({ uid: 'test', type: 6, data }));
    await ask(['roost:revoke']);
    await ask(['roost:revoke', 123]);
    await ask(['roost:revoke', '0123']);
    await ask(['roost:revoke', '99999999999999999999']);
    await ask(['roost:revoke', a.id, 'extra']);
    await ask(['something-else', a.id]);
    await settle();
    assert.deepEqual(auths, []);
    await ask(['roost:revoke', a.id]); // well-formed: as a logout elsewhere would send it
    await until(() => auths.length === 1, 5000 * SLOW, 'auth false');
    assert.deepEqual(auths[0], [false, { reason: 'logged out' }]);
    s.close();
  });

  test('the adapter\'s counters are in /metrics and move', async () => {
    const names = ['published', 'publish_dropped', 'received', 'received_own', 'delivered', 'malformed',
      'requests', 'responses', 'reconnects'].map((n) => `roost_adapter_${n}_total`);
    const before1 = {}, before2 = {};
    for (const n of names) {
      before1[n] = await metric(p1, n);
      before2[n] = await metric(p2, n);
    }
    const a = await g1.register('xc');
    const b = await g1.register('xd');
    const s = await authedSocket(p2.url, a);
    const got = new Promise((resolve) => s.once('followed', resolve));
    await g1.data(FOLLOW, { id: a.user.id }, { creds: b }); // emitted on node 1, delivered by node 2
    await got;
    await redisCommand(predis.port, 'PUBLISH', 'socket.io#/#', 'garbage');
    await until(async () => (await metric(p2, 'roost_adapter_malformed_total')) > before2.roost_adapter_malformed_total,
      5000 * SLOW, 'malformed counted');
    assert.ok((await metric(p1, 'roost_adapter_published_total')) > before1.roost_adapter_published_total);
    assert.ok((await metric(p2, 'roost_adapter_received_total')) > before2.roost_adapter_received_total);
    assert.ok((await metric(p2, 'roost_adapter_delivered_total')) > before2.roost_adapter_delivered_total);
    assert.ok((await metric(p1, 'roost_adapter_received_own_total')) > before1.roost_adapter_received_own_total);
    // The conformance nodes (--adapter too) carry them as well.
    assert.ok((await metric(n1, 'roost_adapter_published_total')) >= 0);
    s.close();
  });

  test('a node that stalls past its TTL: its users count as offline, then again once it is back', async () => {
    const a = await g1.register('xs');
    const s = await authedSocket(p2.url, a);
    assert.equal(await online(g1, a), true);
    process.kill(p2.pid, 'SIGSTOP');
    try {
      await until(async () => !(await online(g1, a)), TTL + 5000 * SLOW, 'offline while node 2 is stopped');
      // node 1 sweeps it (the rows of a silent node go, not only stop counting)
      await until(() => /silent node\(s\) removed/.test(p1.logs()), TTL + 5000 * SLOW, 'the sweep on node 1');
    } finally {
      process.kill(p2.pid, 'SIGCONT');
    }
    await until(async () => await online(g1, a), 5000 * SLOW, 'online again after node 2 resumed');
    assert.match(p2.logs(), /its rows had been swept .* its \d+ online user\(s\) are stored again/);
    assert.ok(s.connected);
    s.close();
    await until(async () => !(await online(g1, a)), 5000 * SLOW, 'offline after the socket went');
  });

  test('a node killed with kill -9: its users are offline on the other node within --presence-ttl', async () => {
    const a = await g1.register('xk');
    const s = await authedSocket(p2.url, a, { reconnection: false });
    assert.equal(await online(g1, a), true);
    const t0 = Date.now();
    await p2.kill9();
    await until(async () => !(await online(g1, a)), TTL + 5000 * SLOW, 'offline after the kill');
    const took = Date.now() - t0;
    // The bound is the TTL from the node's last heartbeat (at most TTL/6 before the kill).
    assert.ok(took <= TTL + 1000 * SLOW, `offline ${took} ms after the kill (TTL ${TTL} ms)`);
    // A clean stop takes a node's users offline at once (no TTL wait).
    const c = await g1.register('xq');
    const p3 = await startRoost({ args: ['--store', store, '--adapter', predis.url, '--presence-ttl', '60000'] });
    try {
      const sc = await authedSocket(p3.url, c, { reconnection: false });
      assert.equal(await online(g1, c), true);
      const t1 = Date.now();
      await p3.stop();
      assert.equal(await online(g1, c), false, 'offline as soon as the node exited');
      assert.ok(Date.now() - t1 < 60000);
      sc.close();
    } finally {
      await p3.cleanup();
    }
  });
});
