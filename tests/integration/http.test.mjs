// HTTP/1.1 server: health, static files, keep-alive, pipelining, limits, timeouts, CORS, stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRoost, rawExchange, sleep } from './lib/roost.mjs';

let roost;
let webRoot;

before(async () => {
  webRoot = mkdtempSync(path.join(tmpdir(), 'roost-web-'));
  writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>roost</title><p>hello</p>');
  mkdirSync(path.join(webRoot, 'assets'));
  writeFileSync(path.join(webRoot, 'assets', 'app-1234.js'), 'console.log("app");');
  writeFileSync(path.join(webRoot, 'style.css'), 'body{}');
  roost = await startRoost({
    webRoot,
    args: ['--header-timeout', '700', '--body-timeout', '700', '--idle-timeout', '1500',
      '--max-body', '4096', '--cors-origin', 'http://allowed.example'],
  });
});

after(async () => {
  await roost.stop();
  await roost.cleanup();
  rmSync(webRoot, { recursive: true, force: true });
});

test('GET /healthz answers 200 JSON', async () => {
  const res = await fetch(`${roost.url}/healthz`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('static root serves index.html with an ETag, and 304 on If-None-Match', async () => {
  const res = await fetch(`${roost.url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(await res.text(), /hello/);
  const etag = res.headers.get('etag');
  assert.ok(etag);
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const again = await fetch(`${roost.url}/`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
});

test('hashed assets are immutable; MIME types follow the extension', async () => {
  const js = await fetch(`${roost.url}/assets/app-1234.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  assert.match(js.headers.get('cache-control'), /immutable/);
  const css = await fetch(`${roost.url}/style.css`);
  assert.match(css.headers.get('content-type'), /text\/css/);
});

test('client-side routes fall back to index.html; missing files with an extension are 404', async () => {
  const route = await fetch(`${roost.url}/chats/42`);
  assert.equal(route.status, 200);
  assert.match(await route.text(), /hello/);
  const missing = await fetch(`${roost.url}/nope.png`);
  assert.equal(missing.status, 404);
});

test('path traversal is refused, raw and percent-encoded', async () => {
  for (const p of ['/../etc/passwd', '/assets/../../etc/passwd', '/%2e%2e/etc/passwd',
    '/assets/%2E%2E/%2e%2e/etc/passwd', '/..%2fetc%2fpasswd', '/a%5c..%5cb', '/%00']) {
    const r = await rawExchange(roost.port, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.1 (400|404) /, `path ${p}: ${r.text.slice(0, 60)}`);
    assert.doesNotMatch(r.text, /root:/);
  }
});

test('keep-alive serves several requests on one connection, and pipelined ones in order', async () => {
  const req = (p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const r = await rawExchange(roost.port, req('/healthz') + req('/style.css') + req('/healthz'), {
    until: /(HTTP\/1\.1 200[\s\S]*){3}\{"status":"ok"\}$/,
  });
  const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '200', '200']);
  const order = [...r.text.matchAll(/Content-Type: ([^\r]+)/g)].map((m) => m[1]);
  assert.match(order[0], /json/);
  assert.match(order[1], /css/);
  assert.match(order[2], /json/);
});

test('a request split into single bytes is still understood', async () => {
  const bytes = [...'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'];
  const r = await rawExchange(roost.port, null, { chunks: bytes });
  assert.match(r.text, /^HTTP\/1\.1 200 /);
});

test('malformed requests get 400, unsupported versions 505, unknown codings 501', async () => {
  const cases = [
    ['GARBAGE\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400],
    ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
    ['POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\n\r\n', 400],
  ];
  for (const [req, status] of cases) {
    const r = await rawExchange(roost.port, req);
    assert.match(r.text, new RegExp(`^HTTP/1\\.1 ${status} `), JSON.stringify(req));
    assert.ok(r.closed, 'connection closed after a framing error');
  }
});

test('header limits: a long line or too many headers get 431', async () => {
  const long = `GET / HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(9000)}\r\n\r\n`;
  assert.match((await rawExchange(roost.port, long)).text, /^HTTP\/1\.1 431 /);
  let many = 'GET / HTTP/1.1\r\nHost: x\r\n';
  for (let i = 0; i < 120; i++) many += `X-H${i}: v\r\n`;
  assert.match((await rawExchange(roost.port, many + '\r\n')).text, /^HTTP\/1\.1 431 /);
});

test('a body over --max-body gets 413 before it is read', async () => {
  const r = await rawExchange(roost.port,
    'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 413 /);
  // chunked bodies are counted as they arrive
  const chunk = 'A'.repeat(3000);
  const body = `bb8\r\n${chunk}\r\nbb8\r\n${chunk}\r\n0\r\n\r\n`;
  const r2 = await rawExchange(roost.port,
    `POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
  assert.match(r2.text, /^HTTP\/1\.1 413 /);
});

test('a chunked body within limits is accepted', async () => {
  const r = await rawExchange(roost.port,
    'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 200 /);
});

test('slowloris: a head that never completes gets 408 and the connection is closed', async () => {
  const start = Date.now();
  const r = await rawExchange(roost.port, null, {
    chunks: Object.assign(['GET / HTTP/1.1\r\n', 'Host: x\r\n', 'X-a: 1\r\n', 'X-b: 1\r\n'], { delay: 250 }),
    timeout: 5000,
  });
  assert.match(r.text, /^HTTP\/1\.1 408 /);
  assert.ok(r.closed);
  assert.ok(Date.now() - start < 4000, 'the deadline is for the whole head, not per read');
});

test('slow body: a body that stops arriving gets 408', async () => {
  const r = await rawExchange(roost.port, 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc', { timeout: 4000 });
  assert.match(r.text, /^HTTP\/1\.1 408 /);
});

test('idle keep-alive connections are closed after the idle timeout', async () => {
  const r = await rawExchange(roost.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 5000 });
  assert.match(r.text, /^HTTP\/1\.1 200 /);
  assert.ok(r.closed, 'server closed the idle connection');
});

test('CORS: allowed origins are echoed with credentials, others are not; Vary: Origin always', async () => {
  const ok = await fetch(`${roost.url}/socket.io/?EIO=4&transport=polling`, {
    headers: { Origin: 'http://allowed.example' },
  });
  assert.equal(ok.headers.get('access-control-allow-origin'), 'http://allowed.example');
  assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
  assert.match(ok.headers.get('vary') || '', /Origin/);
  const bad = await fetch(`${roost.url}/socket.io/?EIO=4&transport=polling`, {
    headers: { Origin: 'http://evil.example' },
  });
  assert.equal(bad.status, 403);
  assert.equal(bad.headers.get('access-control-allow-origin'), null);
  const pre = await fetch(`${roost.url}/socket.io/?EIO=4&transport=polling`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://allowed.example', 'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
});

test('unknown methods on static files get 405 with Allow', async () => {
  const r = await fetch(`${roost.url}/style.css`, { method: 'DELETE' });
  assert.equal(r.status, 405);
  assert.match(r.headers.get('allow'), /GET/);
});

test('SIGTERM stops the server cleanly with exit code 0', async () => {
  const other = await startRoost({ webRoot });
  const res = await other.stop();
  assert.equal(res.code, 0);
  await other.cleanup();
});

test('a bad flag or an unusable port exits 2 with a one-line error', async () => {
  const { spawnSync } = await import('node:child_process');
  const { roostBin } = await import('./lib/roost.mjs');
  const bad = spawnSync(roostBin, ['--no-such-flag'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown flag/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  const busy = spawnSync(roostBin, ['--listen', `127.0.0.1:${roost.port}`, '--threads', '1'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(busy.status, 2, 'a port another roost serves is refused, not shared');
  assert.match(busy.stderr, /cannot listen/);
  const priv = spawnSync(roostBin, ['--listen', '203.0.113.1:1', '--threads', '1'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(priv.status, 2);
  assert.match(priv.stderr, /cannot listen/);
  const help = spawnSync(roostBin, ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /ROOST_LISTEN/);
});
