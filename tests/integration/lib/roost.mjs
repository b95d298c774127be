// roost.mjs - start the real roost binary on a free loopback port for a test.
//
//   const r = await startRoost({ args: ['--conformance'] });
//   r.url, r.port, r.pid; await r.stop() (SIGTERM, asserts a clean exit); r.kill9();
//   await r.restart() (same port, same data directory); r.logs() (stderr so far).
//
// ROOST_BIN picks the binary (release or ASan build). Under sanitizers any report in the
// server's stderr fails stop(), and so does a non-zero exit (LeakSanitizer reports leaks there).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const roostBin = path.resolve(repoRoot, 'tests', process.env.ROOST_BIN || '../build/release/roost');
// ASan and memcheck (scripts/valgrind.sh) both slow roost down: timing bounds are relaxed.
export const sanitized = ['asan', 'valgrind'].includes(process.env.ROOST_MODE || '');
export const underValgrind = process.env.ROOST_MODE === 'valgrind';

const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;

function launch(args, env, port) {
  const listen = `127.0.0.1:${port}`;
  const child = spawn(roostBin, ['--listen', listen, ...args], {
    env: {
      ...process.env,
      // A 64 MiB quarantine (default 256 MiB) still catches use-after-free of recent frees,
      // and keeps RSS meaningful for the tests that bound it (decompression bombs).
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:halt_on_error=1:quarantine_size_mb=64',
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return child;
}

export async function startRoost(opts = {}) {
  const dataDir = opts.dataDir || mkdtempSync(path.join(tmpdir(), 'roost-test-'));
  const ownsDir = !opts.dataDir;
  const baseArgs = [
    '--threads', String(opts.threads ?? 2),
    '--log-level', opts.logLevel || 'info',
    '--web-root', opts.webRoot || path.join(repoRoot, 'web', 'dist'),
  ];
  if (!(opts.args || []).some((a) => a === '--store' || a.startsWith('--store='))) {
    baseArgs.push('--store', opts.store || `sqlite:${path.join(dataDir, 'roost.db')}`);
  }
  const args = [...baseArgs, ...(opts.args || [])];
  let port = opts.port || 0;
  let child;
  let stderr = '';
  const exits = [];

  async function boot() {
    child = launch(args, opts.env || {}, port);
    stderr = '';
    const proc = child;
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    exits.push(exited);
    proc.stdout.on('data', () => {});
    const ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`roost did not start in time:\n${stderr}`)), 20000);
      proc.stderr.on('data', (chunk) => {
        stderr += chunk.toString();
        const m = stderr.match(/listening on https?:\/\/[^\s]*:(\d+)/);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`roost exited early (${code ?? signal}):\n${stderr}`));
      });
    });
    port = await ready;
    return { exited };
  }

  let { exited } = await boot();
  const r = {
    get url() { return `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`; },
    get port() { return port; },
    get pid() { return child.pid; },
    get process() { return child; },
    dataDir,
    logs: () => stderr,
    sanitizerReport: () => (SANITIZER_RE.test(stderr) ? stderr : null),
    async stop({ allowFailure = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      const res = await exited;
      clearTimeout(timer);
      if (!allowFailure) {
        if (SANITIZER_RE.test(stderr)) throw new Error(`sanitizer report:\n${stderr}`);
        if (res.code !== 0) throw new Error(`roost exited with ${res.code ?? res.signal}:\n${stderr.slice(-4000)}`);
      }
      return res;
    },
    kill9() {
      child.kill('SIGKILL');
      return exited;
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) await r.stop();
      ({ exited } = await boot());
      return r;
    },
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) await r.stop({ allowFailure: true });
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return r;
}

// A raw HTTP/1.1 exchange over one TCP connection: send bytes, collect the reply until the
// server closes or `until` matches. For tests of malformed input no client library sends.
import net from 'node:net';
export function rawExchange(port, payload, { until, timeout = 5000, chunks } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: data.toString('latin1'), data, closed });
    };
    const timer = setTimeout(() => finish(false), timeout);
    sock.on('data', (d) => {
      data = Buffer.concat([data, d]);
      if (until && until.test(data.toString('latin1'))) finish(false);
    });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e) => (done ? null : finish(true)));
    sock.on('connect', async () => {
      if (chunks) {
        for (const c of chunks) {
          sock.write(c);
          await new Promise((r) => setTimeout(r, chunks.delay || 5));
        }
      } else if (payload) sock.write(payload);
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
