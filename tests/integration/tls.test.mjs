// TLS: HTTPS and WSS on the listen port (--tls-cert/--tls-key), through real clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { startRoost, roostBin } from './lib/roost.mjs';

let dir, cert, key, ca, roost;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'roost-tls-'));
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  ca = readFileSync(cert);
  // Generous heartbeat: a TLS polling client in Node does a handshake per request and is slow.
  roost = await startRoost({ tls: true, args: ['--conformance', '--ping-interval', '2000', '--ping-timeout', '5000', '--tls-cert', cert, '--tls-key', key] });
});

after(async () => {
  await roost.stop();
  await roost.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function get(url) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

test('HTTPS: /healthz over TLS with a verified certificate, keep-alive included', async () => {
  const r1 = await get(`${roost.url}/healthz`);
  assert.equal(r1.status, 200);
  assert.deepEqual(JSON.parse(r1.body), { status: 'ok' });
  const big = await get(`${roost.url}/engine.io/?EIO=4&transport=polling`);
  assert.equal(big.status, 200);
  assert.match(big.body, /^0\{"sid"/);
});

test('WSS: the ws client echoes text and binary, including a 1 MiB message', async () => {
  const ws = new WebSocket(`wss://127.0.0.1:${roost.port}/ws-echo`, { ca });
  await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
  const got = [];
  ws.on('message', (m, isBinary) => got.push(isBinary ? [...m] : m.toString().length));
  ws.send('hello');
  ws.send(Buffer.from([1, 2, 3]));
  ws.send('x'.repeat(1 << 20));
  await new Promise((r) => { const t = setInterval(() => got.length === 3 && (clearInterval(t), r()), 20); });
  assert.deepEqual(got, [5, [1, 2, 3], 1 << 20]);
  ws.close();
});

for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
  test(`Socket.IO over TLS (${transports.join('+')})`, async () => {
    const s = io(roost.url, { transports, ca, forceNew: true, reconnection: false });
    await new Promise((r, j) => { s.on('connect', r); s.on('connect_error', j); });
    const back = new Promise((r) => s.once('message-back', (...a) => r(a)));
    s.emit('message', 'over tls', Buffer.from([9]));
    const [text, bin] = await back;
    assert.equal(text, 'over tls');
    assert.deepEqual([...bin], [9]);
    s.close();
  });
}

test('plain HTTP and a failed handshake on the TLS port close only that connection', async () => {
  const { rawExchange } = await import('./lib/roost.mjs');
  const r = await rawExchange(roost.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 3000 });
  assert.ok(r.closed);
  const bad = await new Promise((resolve) => {
    const sock = tls.connect({ port: roost.port, host: '127.0.0.1', rejectUnauthorized: true });
    sock.on('error', (e) => resolve(e.code));
    sock.on('secureConnect', () => resolve('connected'));
  });
  assert.notEqual(bad, 'connected', 'an unknown CA is refused by the client');
  assert.equal((await get(`${roost.url}/healthz`)).status, 200);
});

test('a key that does not match the certificate: one-line error, exit 2', () => {
  const other = path.join(dir, 'other.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other], { stdio: 'ignore' });
  const res = spawnSync(roostBin, ['--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', other, '--conformance'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(res.status, 2);
  assert.match(res.stderr, /does not match|key values mismatch/);
});
