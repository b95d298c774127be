// wsraw.mjs - a raw RFC 6455 client over one TCP connection, for conformance tests that no
// well-behaved client library can express: arbitrary (even invalid) frames, any masking, any
// split of the byte stream, frames read back exactly as the server wrote them, and when the
// server closed TCP.
//
//   const c = await WsRaw.connect(port, { path: '/ws-echo', extensions: 'permessage-deflate' });
//   c.response            -> { status, headers (lower-case names), raw }
//   c.send(frame(...))    -> write raw bytes (Buffer or array of Buffers)
//   await c.readFrame()   -> { fin, rsv1, rsv2, rsv3, opcode, masked, payload }
//   await c.readMessage() -> { opcode, payload, frames, rsv1 } (reassembles fragments; control
//                            frames met on the way are returned by readMessage only when asked)
//   await c.expectClose() -> { code, reason, frame } (the next frame must be a close)
//   await c.waitTcpClose(ms) -> ms elapsed until the server's FIN/RST, or null on timeout
//   await c.waitGone(ms)    -> keep writing until a write fails: ms until the server's socket
//                              was closed for good (not only half-closed), or null
//   c.destroy()
import net from 'node:net';
import crypto from 'node:crypto';

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptKey(key) {
  return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

/**
 * Encode one client frame. Options: fin (default true), rsv1/rsv2/rsv3 (booleans), mask
 * (default true), maskKey (4-byte Buffer; default random), len (override the announced payload
 * length, e.g. to announce more than is sent), lenBytes (force the 7-bit / 16-bit / 64-bit
 * length encoding: 0, 2 or 8 extra bytes), rawLen64 (a Buffer of 8 bytes for the 64-bit length).
 */
export function frame(opcode, payload = Buffer.alloc(0), opts = {}) {
  if (typeof payload === 'string') payload = Buffer.from(payload, 'utf8');
  const { fin = true, rsv1 = false, rsv2 = false, rsv3 = false, mask = true } = opts;
  const len = opts.len ?? payload.length;
  let lenBytes = opts.lenBytes;
  if (lenBytes === undefined) lenBytes = len < 126 ? 0 : len <= 0xffff ? 2 : 8;
  const head = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | (opcode & 0x0f);
  if (lenBytes === 0) head[1] = len;
  else if (lenBytes === 2) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 127;
    if (opts.rawLen64) opts.rawLen64.copy(head, 2);
    else head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const key = opts.maskKey || crypto.randomBytes(4);
  key.copy(head, 2 + lenBytes);
  return Buffer.concat([head, maskBytes(payload, key)]);
}

export function maskBytes(payload, key, offset = 0) {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i] ^ key[(i + offset) & 3];
  return out;
}

/** A close frame: code (number, optional), reason (string or Buffer). */
export function closeFrame(code, reason = '', opts = {}) {
  if (code === undefined) return frame(OP.CLOSE, Buffer.alloc(0), opts);
  const r = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  const p = Buffer.alloc(2 + r.length);
  p.writeUInt16BE(code, 0);
  r.copy(p, 2);
  return frame(OP.CLOSE, p, opts);
}

export class WsRaw {
  constructor(sock) {
    this.sock = sock;
    this.chunks = []; // received bytes not yet parsed into frames
    this.avail = 0;
    this.frames = []; // parsed frames not yet taken
    this.waiters = [];
    this.tcpClosed = false;
    this.tcpClosedAt = 0;
    this.error = null;
    this.bytesIn = 0;
    this.handshakeDone = false;
    sock.setNoDelay(true);
    sock.on('data', (d) => this._onData(d));
    const closed = () => {
      if (this.tcpClosed) return;
      this.tcpClosed = true;
      this.tcpClosedAt = Date.now();
      this._wake();
    };
    sock.on('end', closed);
    sock.on('close', closed);
    sock.on('error', (e) => {
      this.error = e;
      this.errorAt = Date.now();
      closed();
    });
  }

  /** Open a TCP connection and perform the opening handshake (it must succeed with 101). */
  static async connect(port, opts = {}) {
    const c = await WsRaw.open(port, opts);
    if (c.response.status !== 101) {
      c.destroy();
      throw new Error(`handshake failed: ${c.response.raw}`);
    }
    return c;
  }

  /**
   * Open a TCP connection and send a handshake request, returning the client with .response
   * set whatever the status. opts: path, key, version, extensions, protocol, method, headers
   * (extra lines as an object; a value of null omits a default header), request (whole raw
   * request text instead).
   */
  static async open(port, opts = {}) {
    // allowHalfOpen: when the server half-closes, we do not answer with our FIN automatically,
    // so tests can see what the server does with a client that never answers.
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const c = new WsRaw(sock);
    c.key = opts.key ?? crypto.randomBytes(16).toString('base64');
    let req = opts.request;
    if (!req) {
      const h = {
        Host: `127.0.0.1:${port}`,
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Key': c.key,
        'Sec-WebSocket-Version': opts.version ?? '13',
      };
      if (opts.extensions) h['Sec-WebSocket-Extensions'] = opts.extensions;
      if (opts.protocol) h['Sec-WebSocket-Protocol'] = opts.protocol;
      Object.assign(h, opts.headers || {});
      req = `${opts.method || 'GET'} ${opts.path || '/ws-echo'} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(h)) if (v !== null && v !== undefined) req += `${k}: ${v}\r\n`;
      req += '\r\n';
    }
    sock.write(req);
    c.response = await c._readHead(opts.timeout ?? 5000);
    return c;
  }

  _onData(d) {
    this.bytesIn += d.length;
    this.chunks.push(d);
    this.avail += d.length;
    if (this.handshakeDone) this._parse();
    this._wake();
  }

  _wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  _wait(deadline) {
    return new Promise((resolve) => {
      const ms = deadline - Date.now();
      if (ms <= 0) return resolve();
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  _take(n) {
    // Remove n bytes from the front of the chunk list (n <= avail).
    if (this.chunks[0].length === n) {
      this.avail -= n;
      return this.chunks.shift();
    }
    if (this.chunks[0].length > n) {
      const b = this.chunks[0].subarray(0, n);
      this.chunks[0] = this.chunks[0].subarray(n);
      this.avail -= n;
      return b;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.avail -= n;
    return out;
  }

  _peek(n) {
    if (this.chunks[0] && this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all.subarray(0, n);
  }

  async _readHead(timeout) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const all = Buffer.concat(this.chunks);
      this.chunks = all.length ? [all] : [];
      const end = all.indexOf('\r\n\r\n');
      if (end >= 0) {
        const raw = all.subarray(0, end + 4).toString('latin1');
        this._take(end + 4);
        const lines = raw.split('\r\n');
        const status = Number(lines[0].split(' ')[1]);
        const headers = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) {
            const k = l.slice(0, i).trim().toLowerCase();
            const v = l.slice(i + 1).trim();
            headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
          }
        }
        // A body (error responses) is left in the chunks; frames start right after a 101.
        this.handshakeDone = status === 101;
        if (this.handshakeDone) this._parse();
        return { status, headers, raw, body: () => Buffer.concat(this.chunks).toString('utf8') };
      }
      if (this.tcpClosed) return { status: 0, headers: {}, raw: all.toString('latin1'), body: () => '' };
      if (Date.now() >= deadline) throw new Error(`no handshake response: ${all.toString('latin1')}`);
      await this._wait(deadline);
    }
  }

  _parse() {
    for (;;) {
      if (this.avail < 2) return;
      const h = this._peek(2);
      const b0 = h[0];
      const b1 = h[1];
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let hlen = 2;
      if (len === 126) hlen = 4;
      else if (len === 127) hlen = 10;
      if (masked) hlen += 4;
      if (this.avail < hlen) return;
      const hb = this._peek(hlen);
      if (len === 126) len = hb.readUInt16BE(2);
      else if (len === 127) len = Number(hb.readBigUInt64BE(2));
      if (this.avail < hlen + len) return;
      const hdr = Buffer.from(this._take(hlen));
      let payload = len ? Buffer.from(this._take(len)) : Buffer.alloc(0);
      if (masked) payload = maskBytes(payload, hdr.subarray(hlen - 4));
      const lenBytes = hlen - 2 - (masked ? 4 : 0);
      this.frames.push({
        fin: (b0 & 0x80) !== 0,
        rsv1: (b0 & 0x40) !== 0,
        rsv2: (b0 & 0x20) !== 0,
        rsv3: (b0 & 0x10) !== 0,
        opcode: b0 & 0x0f,
        masked,
        lenBytes,
        payload,
        at: Date.now(),
      });
    }
  }

  /** Write raw bytes (a Buffer, or an array written as separate writes). */
  send(data) {
    if (Array.isArray(data)) for (const d of data) this.sock.write(d);
    else this.sock.write(data);
  }

  /** Write and wait until the data was handed to the kernel. */
  sendAsync(data) {
    return new Promise((resolve) => {
      if (this.tcpClosed) return resolve(false);
      this.sock.write(data, (err) => resolve(!err));
    });
  }

  /** Write the bytes one write at a time with a pause between, so each is its own segment. */
  async sendSplit(parts, delayMs = 2) {
    for (const p of parts) {
      if (this.tcpClosed) return;
      await this.sendAsync(p);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  /** The next frame from the server, or null when none arrives in time / TCP closed. */
  async readFrame(timeout = 5000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      if (this.frames.length) return this.frames.shift();
      if (this.tcpClosed || Date.now() >= deadline) return null;
      await this._wait(deadline);
    }
  }

  /** Reassemble the next data message; control frames on the way are collected in .controls. */
  async readMessage(timeout = 5000) {
    const deadline = Date.now() + timeout;
    const parts = [];
    const controls = [];
    let first = null;
    for (;;) {
      const f = await this.readFrame(deadline - Date.now());
      if (!f) throw new Error(`no message (got ${parts.length} fragments; tcp closed: ${this.tcpClosed})`);
      if (f.opcode >= 8) {
        if (f.opcode === OP.CLOSE) throw new Error(`close instead of a message: ${describeClose(f)}`);
        controls.push(f);
        continue;
      }
      if (!first) first = f;
      parts.push(f.payload);
      if (f.fin) {
        return { opcode: first.opcode, rsv1: first.rsv1, payload: Buffer.concat(parts), frames: parts.length, controls, first };
      }
    }
  }

  /** The next frame must be a close frame: returns { code, reason, frame } (code 1005 if empty). */
  async expectClose(timeout = 5000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const f = await this.readFrame(deadline - Date.now());
      if (!f) return { code: null, reason: null, frame: null, tcpClosed: this.tcpClosed };
      if (f.opcode === OP.PONG) continue; // pongs to earlier pings may precede it
      if (f.opcode !== OP.CLOSE) {
        throw new Error(`expected a close frame, got opcode ${f.opcode} (${f.payload.length} bytes)`);
      }
      return parseClose(f);
    }
  }

  /** Milliseconds from now until the server closed TCP (0 if already), or null on timeout. */
  async waitTcpClose(timeout = 3000) {
    const start = Date.now();
    const deadline = start + timeout;
    while (!this.tcpClosed) {
      if (Date.now() >= deadline) return null;
      await this._wait(deadline);
    }
    return Math.max(0, this.tcpClosedAt - start);
  }

  /**
   * After the server half-closed, show when it closed the socket for good: a write to a closed
   * socket draws an RST, which fails a later write. Returns ms elapsed, or null on timeout.
   */
  async waitGone(timeout = 3000, every = 25) {
    const start = Date.now();
    while (Date.now() - start < timeout) {
      if (this.error || this.sock.destroyed) return (this.errorAt || Date.now()) - start;
      this.sock.write(frame(OP.PONG, ''), () => {});
      await new Promise((r) => setTimeout(r, every));
    }
    return null;
  }

  /** Reply to the server's close (clean closing handshake from the client side). */
  replyClose(code) {
    if (!this.tcpClosed) this.sock.write(code ? closeFrame(code) : closeFrame());
  }

  pause() {
    this.sock.pause();
  }

  resume() {
    this.sock.resume();
  }

  destroy() {
    this.sock.destroy();
  }
}

export function parseClose(f) {
  const p = f.payload;
  const code = p.length >= 2 ? p.readUInt16BE(0) : 1005;
  return { code, reason: p.subarray(2).toString('utf8'), frame: f };
}

function describeClose(f) {
  const c = parseClose(f);
  return `${c.code} ${c.reason}`;
}
