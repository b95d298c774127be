// Limits under attack: per-address connection cap, running out of descriptors (accept backoff,
// never a busy loop), and a connection flood that legitimate clients survive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startRoost, sleep } from './lib/roost.mjs';

function openConns(port, n, host = '127.0.0.1', localAddress) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve) => {
    const s = net.connect({ port, host, localAddress });
    s.on('connect', () => resolve(s));
    s.on('error', () => resolve(s));
  })));
}

// Ask for /healthz on a socket; resolves with the status, or null when the server closed it.
function probe(sock) {
  return new Promise((resolve) => {
    let data = '';
    const t = setTimeout(() => resolve(null), 3000);
    sock.on('data', (d) => {
      data += d;
      const m = data.match(/^HTTP\/1\.1 (\d+)/);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    sock.on('close', () => { clearTimeout(t); resolve(null); });
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

test('per-address cap: connections past --max-conns-per-ip are refused, others still served', async () => {
  const r = await startRoost({ args: ['--max-conns-per-ip', '20', '--threads', '1'] });
  const socks = await openConns(r.port, 30);
  await sleep(200);
  const statuses = await Promise.all(socks.map(probe));
  const served = statuses.filter((s) => s === 200).length;
  assert.equal(served, 20, `served ${served} of 30 from one address`);
  // Another address is not affected by the first one's cap.
  const [other] = await openConns(r.port, 1, '127.0.0.1', '127.0.0.2');
  assert.equal(await probe(other), 200);
  socks.forEach((s) => s.destroy());
  other.destroy();
  await sleep(200);
  // Once they are gone, the first address is welcome again.
  const [again] = await openConns(r.port, 1);
  assert.equal(await probe(again), 200);
  again.destroy();
  const metrics = await (await fetch(`${r.url}/metrics`)).text();
  assert.match(metrics, /roost_connections_rejected_total [1-9]/);
  await r.stop();
  await r.cleanup();
});

test('out of descriptors: accepts back off instead of spinning, and service resumes', async () => {
  // A small descriptor limit for this roost only (prlimit on the child after it started).
  const r = await startRoost({ args: ['--threads', '1', '--max-conns-per-ip', '0'] });
  const { execFileSync } = await import('node:child_process');
  execFileSync('prlimit', ['--pid', String(r.pid), '--nofile=96:96']);
  const flood = [];
  for (let i = 0; i < 4; i++) {
    flood.push(...await openConns(r.port, 40, '127.0.0.1', `127.0.0.${10 + i}`));
  }
  await sleep(300);
  const before = cpuSeconds(r.pid);
  await sleep(2000);
  const spent = cpuSeconds(r.pid) - before;
  assert.ok(spent < 0.6, `roost used ${spent}s of CPU in 2 s while out of descriptors (busy loop?)`);
  assert.match(r.logs(), /pausing accepts/);
  flood.forEach((s) => s.destroy());
  await sleep(500);
  const [fresh] = await openConns(r.port, 1);
  assert.equal(await probe(fresh), 200);
  fresh.destroy();
  await r.stop();
  await r.cleanup();
});

test('a flood of connections that send nothing does not stop real requests', async () => {
  const r = await startRoost({ args: ['--header-timeout', '1000', '--max-conns-per-ip', '0'] });
  const idle = [];
  for (let i = 0; i < 5; i++) idle.push(...await openConns(r.port, 200, '127.0.0.1', `127.0.1.${i + 1}`));
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${r.url}/healthz`);
    assert.equal(res.status, 200);
  }
  // Silent connections are closed by the header deadline.
  await sleep(1800);
  const open = idle.filter((s) => !s.destroyed && s.readyState === 'open').length;
  assert.ok(open < idle.length / 10, `${open} of ${idle.length} silent connections still open`);
  idle.forEach((s) => s.destroy());
  await r.stop();
  await r.cleanup();
});
