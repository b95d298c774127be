// services.mjs - throwaway servers the cluster tests start on loopback and stop by PID:
//
//   const redis = await startRedis();   redis.url, redis.port, await redis.stop(), await redis.start()
//   const lb = await startNginx({ upstreams: [port1, port2] });   lb.url, await lb.stop()
//   const port = await freePort();
//
// Redis runs without persistence (--save '' --appendonly no), so a restart starts empty, as
// a crashed cache would. nginx runs from a temporary prefix with docs/nginx.conf, whose
// upstream servers and listen address are rewritten to the test's ports.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './roost.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function stopChild(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

// A connection to Redis that answers one command (for tests that inspect Redis directly).
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (/\r\n$/.test(data)) {
        sock.end();
        resolve(data);
      }
    });
    sock.on('error', reject);
    sock.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
  });
}

export async function startRedis({ port } = {}) {
  port = port || (await freePort());
  let child = null;
  const r = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() { return child?.pid; },
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
        '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // --loglevel warning still prints the ready line at notice level on some builds; poll PING.
      child.stdout.on('data', () => {});
      child.stderr.on('data', () => {});
      const exited = new Promise((_, reject) => child.once('exit', (c, s) => reject(new Error(`redis-server exited (${c ?? s})`))));
      exited.catch(() => {});
      for (let i = 0; i < 100; i++) {
        try {
          if ((await Promise.race([redisCommand(port, 'PING'), exited])).startsWith('+PONG')) return r;
        } catch (e) {
          if (child.exitCode !== null) throw e;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error('redis-server did not answer PING');
    },
    stop: () => stopChild(child),
    kill: () => stopChild(child, 'SIGKILL'),
  };
  return r.start();
}

// nginx in front of roost nodes, configured from docs/nginx.conf.
export async function startNginx({ upstreams, port } = {}) {
  port = port || (await freePort());
  const prefix = mkdtempSync(path.join(tmpdir(), 'roost-nginx-'));
  mkdirSync(path.join(prefix, 'logs'));
  const site = readFileSync(path.join(repoRoot, 'docs', 'nginx.conf'), 'utf8');
  // The documented upstream block lists two example nodes; put the test's nodes there.
  let servers = 0;
  let conf = site.replace(/^(\s*)server 127\.0\.0\.1:\d+(.*);$/gm, (m, indent, rest) => {
    if (servers === 0) {
      servers = upstreams.length;
      return upstreams.map((p) => `${indent}server 127.0.0.1:${p}${rest};`).join('\n');
    }
    return '';
  });
  conf = conf.replace(/^(\s*)listen [^;]*;$/m, `$1listen 127.0.0.1:${port};`);
  if (!servers || !conf.includes(`listen 127.0.0.1:${port};`)) throw new Error('docs/nginx.conf: upstream or listen line not found');
  writeFileSync(path.join(prefix, 'roost.conf'), conf);
  // The main file Debian's /etc/nginx/nginx.conf would be, reduced to what a test needs.
  writeFileSync(path.join(prefix, 'nginx.conf'), `
worker_processes 1;
error_log ${prefix}/logs/error.log warn;
pid ${prefix}/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${prefix}/body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;
    include ${prefix}/roost.conf;
}
`);
  const bin = process.env.NGINX_BIN || '/usr/sbin/nginx';
  const child = spawn(bin, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', () => {});
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    errors: () => { try { return readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8'); } catch { return ''; } },
    async stop() {
      await stopChild(child, 'SIGTERM'); // fast shutdown: do not wait for idle keep-alives
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
