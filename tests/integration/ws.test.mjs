// WebSocket (RFC 6455) conformance of roost's /ws-echo endpoint (roost --conformance), from the
// outside over real TCP: a raw frame client (lib/wsraw.mjs) for every framing, UTF-8, close and
// limit rule of issue 3, permessage-deflate with raw zlib streams, and interop with the npm `ws`
// client and headless Chromium. Slow readers and ping floods are checked against the output cap.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import WebSocket from 'ws';
import { startRoost, rawExchange, sleep, sanitized } from './lib/roost.mjs';
import { WsRaw, OP, frame, closeFrame, acceptKey } from './lib/wsraw.mjs';

const MAX_MESSAGE = 16 << 20; // the echo endpoint's cap (src/app/conformance.c)
const SMALL_OUTPUT = 256 * 1024; // --max-output of the slow-reader instance

let plain; // roost --conformance
let defl; // roost --conformance --ws-deflate
let small; // roost --conformance --max-output 256 KiB

before(async () => {
  [plain, defl, small] = await Promise.all([
    // An output cap above the largest echo: see the 16 MiB tests under "limits".
    startRoost({ args: ['--conformance', '--max-output', String(2 * MAX_MESSAGE + 4096)] }),
    startRoost({ args: ['--conformance', '--ws-deflate'] }),
    startRoost({ args: ['--conformance', '--max-output', String(SMALL_OUTPUT)] }),
  ]);
});

after(async () => {
  for (const r of [plain, defl, small]) {
    if (!r) continue;
    await r.stop();
    await r.cleanup();
  }
});

// ---- helpers -------------------------------------------------------------------------------

const u8 = (...bytes) => Buffer.from(bytes.flat());
const txt = (s) => Buffer.from(s, 'utf8');

/** Send one message and read its echo; returns the echoed message. */
async function echo(c, opcode, payload, timeout = 10000) {
  c.send(frame(opcode, payload));
  const m = await c.readMessage(timeout);
  assert.equal(m.opcode, opcode);
  return m;
}

/**
 * Open a connection, let `act` misbehave, and require a close frame with `code` followed by the
 * server closing TCP within a second, although the client never answers the close.
 */
async function expectFailure(port, act, code, { connect = {}, what = '' } = {}) {
  const c = await WsRaw.connect(port, connect);
  try {
    if (Buffer.isBuffer(act) || Array.isArray(act)) c.send(act);
    else await act(c);
    const cl = await c.expectClose(3000);
    const codes = Array.isArray(code) ? code : [code];
    assert.ok(codes.includes(cl.code), `${what}: expected close ${codes.join('/')}, got ${cl.code} ${cl.reason ?? ''} (tcp closed: ${c.tcpClosed})`);
    assert.equal(cl.frame.masked, false, 'server frames are never masked');
    const sinceClose = Date.now() - cl.frame.at;
    const t = await c.waitTcpClose(1500);
    assert.notEqual(t, null, `${what}: server did not close TCP after its close frame`);
    assert.ok(sinceClose + t <= 1200, `${what}: TCP closed ${sinceClose + t} ms after the close frame`);
    return cl;
  } finally {
    c.destroy();
  }
}

/** Wait until fn() is true, polling. */
async function until(fn, timeout = 5000, step = 20) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(step);
  }
  return false;
}

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

/** A `ws` client round trip against r, to show the server still serves others. */
async function wsLibEcho(r, msg = 'still here', opts = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${r.port}/ws-echo`, opts);
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const got = new Promise((resolve) => ws.once('message', (d, isBinary) => resolve({ d, isBinary })));
    ws.send(msg);
    const { d } = await got;
    return d.toString();
  } finally {
    ws.terminate();
  }
}

// ---- handshake -----------------------------------------------------------------------------

describe('handshake', () => {
  test('a valid upgrade gets 101 with the right Sec-WebSocket-Accept and no extension', async () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const c = await WsRaw.connect(plain.port, { key, extensions: 'permessage-deflate; client_max_window_bits', protocol: 'chat, superchat' });
    try {
      assert.equal(c.response.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
      assert.equal(c.response.headers['sec-websocket-accept'], acceptKey(key));
      assert.match(c.response.headers.upgrade, /^websocket$/i);
      assert.match(c.response.headers.connection, /upgrade/i);
      assert.equal(c.response.headers['sec-websocket-extensions'], undefined, 'deflate is off without --ws-deflate');
      assert.equal(c.response.headers['sec-websocket-protocol'], undefined);
      const m = await echo(c, OP.TEXT, 'hi');
      assert.equal(m.payload.toString(), 'hi');
    } finally {
      c.destroy();
    }
  });

  test('Upgrade and Connection are token lists in any case', async () => {
    const c = await WsRaw.connect(plain.port, {
      headers: { Upgrade: 'WebSocket', Connection: 'keep-alive, UPGRADE' },
    });
    c.destroy();
  });

  const refusals = [
    ['missing Sec-WebSocket-Key', { headers: { 'Sec-WebSocket-Key': null } }, 400],
    ['key that is not base64', { key: '!!!!!!!!!!!!!!!!!!!!!!==' }, 400],
    ['key of 15 bytes', { key: Buffer.alloc(15, 1).toString('base64') }, 400],
    ['key of 17 bytes', { key: Buffer.alloc(17, 1).toString('base64') }, 400],
    ['empty key', { key: '' }, 400],
    ['two keys', { headers: { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==' } }, 400],
    ['POST', { method: 'POST' }, 400],
    ['Connection without upgrade', { headers: { Connection: 'keep-alive' } }, 426],
    ['version 8', { version: '8' }, 426],
    ['version 12', { version: '12' }, 426],
    ['version 14', { version: '14' }, 426],
    ['missing version', { headers: { 'Sec-WebSocket-Version': null } }, 426],
  ];
  for (const [name, opts, status] of refusals) {
    test(`${name} -> ${status}`, async () => {
      const c = await WsRaw.open(plain.port, opts);
      try {
        assert.equal(c.response.status, status, c.response.raw);
        if (status === 426 && name.startsWith('version') || name === 'missing version') {
          assert.equal(c.response.headers['sec-websocket-version'], '13');
        }
        assert.equal(c.response.headers['sec-websocket-accept'], undefined);
        // A refused handshake ends the connection; a plain GET without upgrade is ordinary HTTP.
        if (name !== 'Connection without upgrade') {
          assert.notEqual(await c.waitTcpClose(2000), null, 'connection closed after the refusal');
        }
      } finally {
        c.destroy();
      }
    });
  }

  test('HTTP/1.0 upgrade -> 400', async () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const res = await rawExchange(plain.port,
      `GET /ws-echo HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    assert.match(res.text, /^HTTP\/1\.[01] 4\d\d /);
  });

  test('frames sent in the same write as the request are processed after the 101', async () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const req = `GET /ws-echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const c = await WsRaw.open(plain.port, { request: Buffer.concat([txt(req), frame(OP.TEXT, 'early')]) });
    try {
      assert.equal(c.response.status, 101);
      const m = await c.readMessage();
      assert.equal(m.payload.toString(), 'early');
    } finally {
      c.destroy();
    }
  });
});

// ---- framing: lengths and splits -------------------------------------------------------------

describe('framing', () => {
  const sizes = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20, 4 << 20];
  for (const n of sizes) {
    test(`${n}-byte text and binary messages echo with the minimal length encoding`, async () => {
      const c = await WsRaw.connect(plain.port);
      try {
        const bin = Buffer.alloc(n);
        for (let i = 0; i < n; i++) bin[i] = (i * 7 + 3) & 0xff;
        const text = Buffer.alloc(n, 'a'.charCodeAt(0));
        for (const [op, p] of [[OP.BINARY, bin], [OP.TEXT, text]]) {
          c.send(frame(op, p));
          const f = await c.readFrame(10000);
          assert.ok(f, 'echo arrived');
          assert.equal(f.opcode, op);
          assert.equal(f.fin, true);
          assert.equal(f.rsv1 || f.rsv2 || f.rsv3, false);
          assert.equal(f.masked, false);
          assert.equal(f.lenBytes, n < 126 ? 0 : n < 65536 ? 2 : 8);
          assert.ok(f.payload.equals(p), 'payload intact');
        }
      } finally {
        c.destroy();
      }
    });
  }

  test('a client may use a longer length encoding than needed', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      c.send(frame(OP.TEXT, 'sixteen', { lenBytes: 2 }));
      c.send(frame(OP.BINARY, u8(1, 2, 3), { lenBytes: 8 }));
      assert.equal((await c.readMessage()).payload.toString(), 'sixteen');
      assert.deepEqual([...(await c.readMessage()).payload], [1, 2, 3]);
    } finally {
      c.destroy();
    }
  });

  test('masking keys of all zeros and all ones work', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      c.send(frame(OP.TEXT, 'zero key', { maskKey: u8(0, 0, 0, 0) }));
      c.send(frame(OP.TEXT, 'ones key', { maskKey: u8(255, 255, 255, 255) }));
      assert.equal((await c.readMessage()).payload.toString(), 'zero key');
      assert.equal((await c.readMessage()).payload.toString(), 'ones key');
    } finally {
      c.destroy();
    }
  });

  test('fragmented messages (including empty fragments) are reassembled', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      c.send([
        frame(OP.TEXT, 'frag', { fin: false }),
        frame(OP.CONT, '', { fin: false }),
        frame(OP.CONT, 'men', { fin: false }),
        frame(OP.CONT, 'ted'),
      ]);
      assert.equal((await c.readMessage()).payload.toString(), 'fragmented');
      c.send([frame(OP.BINARY, '', { fin: false }), frame(OP.CONT, '')]);
      const m = await c.readMessage();
      assert.equal(m.opcode, OP.BINARY);
      assert.equal(m.payload.length, 0);
      // A large message in many fragments of mixed length encodings.
      const big = Buffer.alloc(300000);
      for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
      const parts = [];
      for (let off = 0, i = 0; off < big.length; i++) {
        const len = [10, 200, 70000, 125, 126][i % 5];
        const p = big.subarray(off, off + len);
        off += p.length;
        parts.push(frame(i === 0 ? OP.BINARY : OP.CONT, p, { fin: off >= big.length }));
      }
      c.send(parts);
      assert.ok((await c.readMessage()).payload.equals(big));
    } finally {
      c.destroy();
    }
  });

  // A stream of several small frames covering all frame kinds: whole messages, a fragmented
  // text message split inside a multi-byte character with a ping between its fragments, an
  // unsolicited pong, and the 16-bit length encoding.
  const stream = Buffer.concat([
    frame(OP.TEXT, 'Hello'),
    frame(OP.BINARY, Buffer.from(Array.from({ length: 130 }, (_, i) => i))),
    frame(OP.PING, 'p1'),
    frame(OP.TEXT, txt('H€').subarray(0, 3), { fin: false }),
    frame(OP.PING, 'p2'),
    frame(OP.CONT, Buffer.concat([txt('H€').subarray(3), txt('llo 𝄞')]), { fin: false }),
    frame(OP.PONG, 'unsolicited'),
    frame(OP.CONT, '!'),
    frame(OP.TEXT, ''),
  ]);
  async function expectStreamReplies(c) {
    const want = [
      [OP.TEXT, 'Hello'],
      [OP.BINARY, Buffer.from(Array.from({ length: 130 }, (_, i) => i))],
      [OP.PONG, 'p1'],
      [OP.PONG, 'p2'],
      [OP.TEXT, 'H€llo 𝄞!'],
      [OP.TEXT, ''],
    ];
    for (const [op, p] of want) {
      const f = await c.readFrame(3000);
      assert.ok(f, `reply ${op} ${p} arrived`);
      assert.equal(f.opcode, op);
      assert.ok(f.payload.equals(Buffer.isBuffer(p) ? p : txt(p)), `payload of ${op}: ${f.payload.toString()}`);
    }
  }

  test('the frame stream split at every byte boundary gives the same replies', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      for (let i = 1; i < stream.length; i++) {
        await c.sendSplit([stream.subarray(0, i), stream.subarray(i)], 2);
        await expectStreamReplies(c);
      }
      assert.equal(c.frames.length, 0, 'nothing extra');
    } finally {
      c.destroy();
    }
  });

  test('the frame stream one byte per write gives the same replies', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      const parts = [];
      for (let i = 0; i < stream.length; i++) parts.push(stream.subarray(i, i + 1));
      await c.sendSplit(parts, 1);
      await expectStreamReplies(c);
    } finally {
      c.destroy();
    }
  });

  test('a 64-bit-length frame split at every byte of its header', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      const p = Buffer.alloc(70000);
      for (let i = 0; i < p.length; i++) p[i] = (i * 13) & 0xff;
      const f = frame(OP.BINARY, p);
      for (let i = 1; i <= 14; i++) {
        await c.sendSplit([f.subarray(0, i), f.subarray(i)], 2);
        const m = await c.readMessage();
        assert.ok(m.payload.equals(p), `split at ${i}`);
      }
    } finally {
      c.destroy();
    }
  });
});

// ---- ping / pong ------------------------------------------------------------------------------

describe('ping', () => {
  test('pings of 0, 1 and 125 bytes (binary payloads) are answered with identical pongs', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      for (const n of [0, 1, 125]) {
        const p = Buffer.alloc(n);
        for (let i = 0; i < n; i++) p[i] = (255 - i) & 0xff;
        c.send(frame(OP.PING, p));
        const f = await c.readFrame();
        assert.equal(f.opcode, OP.PONG);
        assert.equal(f.fin, true);
        assert.ok(f.payload.equals(p));
      }
    } finally {
      c.destroy();
    }
  });

  test('a ping between fragments is answered at once, before the message completes', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      for (const op of [OP.TEXT, OP.BINARY]) {
        c.send(frame(op, 'first ', { fin: false }));
        c.send(frame(OP.PING, 'are you there'));
        const pong = await c.readFrame(1000);
        assert.ok(pong, 'pong arrived while the message was still open');
        assert.equal(pong.opcode, OP.PONG);
        assert.equal(pong.payload.toString(), 'are you there');
        c.send(frame(OP.CONT, 'second ', { fin: false }));
        c.send([frame(OP.PING, 'a'), frame(OP.PING, 'b')]);
        assert.equal((await c.readFrame(1000)).payload.toString(), 'a');
        assert.equal((await c.readFrame(1000)).payload.toString(), 'b');
        assert.equal(c.frames.length, 0);
        c.send(frame(OP.CONT, 'third'));
        const m = await c.readMessage();
        assert.equal(m.opcode, op);
        assert.equal(m.payload.toString(), 'first second third');
      }
    } finally {
      c.destroy();
    }
  });

  test('unsolicited pongs are ignored', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      c.send([frame(OP.PONG, 'x'), frame(OP.PONG, ''), frame(OP.TEXT, 'after pong')]);
      const f = await c.readFrame();
      assert.equal(f.opcode, OP.TEXT);
      assert.equal(f.payload.toString(), 'after pong');
    } finally {
      c.destroy();
    }
  });
});

// ---- UTF-8 -------------------------------------------------------------------------------------

describe('utf-8', () => {
  // Each class of invalid sequence, embedded between valid text.
  const bad = {
    'overlong 2-byte C0 80': [0xc0, 0x80],
    'overlong 2-byte C1 BF': [0xc1, 0xbf],
    'overlong 3-byte E0 80 80': [0xe0, 0x80, 0x80],
    'overlong 3-byte E0 9F BF': [0xe0, 0x9f, 0xbf],
    'overlong 4-byte F0 80 80 80': [0xf0, 0x80, 0x80, 0x80],
    'overlong 4-byte F0 8F BF BF': [0xf0, 0x8f, 0xbf, 0xbf],
    'surrogate U+D800': [0xed, 0xa0, 0x80],
    'surrogate U+DBFF': [0xed, 0xaf, 0xbf],
    'surrogate U+DC00': [0xed, 0xb0, 0x80],
    'surrogate U+DFFF': [0xed, 0xbf, 0xbf],
    'surrogate pair': [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80],
    'U+110000 F4 90 80 80': [0xf4, 0x90, 0x80, 0x80],
    'F5 lead': [0xf5, 0x80, 0x80, 0x80],
    'F7 BF BF BF': [0xf7, 0xbf, 0xbf, 0xbf],
    '5-byte F8 88 80 80 80': [0xf8, 0x88, 0x80, 0x80, 0x80],
    '6-byte FC 84 80 80 80 80': [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80],
    'FE': [0xfe],
    'FF': [0xff],
    'lone continuation 80': [0x80],
    'lone continuation BF': [0xbf],
    'continuations after a whole character': [0xe2, 0x82, 0xac, 0x80],
    'truncated 2-byte then ASCII': [0xc3, 0x41],
    'truncated 3-byte then ASCII': [0xe2, 0x82, 0x41],
    'truncated 4-byte then ASCII': [0xf0, 0x9f, 0x98, 0x41],
    'truncated 3-byte then a new lead': [0xe2, 0x82, 0xe2, 0x82, 0xac],
  };
  // Sequences cut short at the very end of the message.
  const truncatedAtEnd = {
    'message ends after C3': [0xc3],
    'message ends after E2 82': [0xe2, 0x82],
    'message ends after F0 9F 98': [0xf0, 0x9f, 0x98],
    'message ends after F4 8F': [0xf4, 0x8f],
  };
  const prefix = txt('κόσμε ');
  const suffix = txt(' fin');
  const cases = [
    ...Object.entries(bad).map(([n, b]) => [n, Buffer.concat([prefix, u8(b), suffix]), prefix.length, b.length]),
    ...Object.entries(truncatedAtEnd).map(([n, b]) => [n, Buffer.concat([prefix, u8(b)]), prefix.length, b.length]),
  ];

  test('every invalid class in one text frame -> 1007', async () => {
    for (const [name, payload] of cases) {
      await expectFailure(plain.port, frame(OP.TEXT, payload), 1007, { what: name });
    }
  });

  test('every invalid class split across fragments at every byte around it -> 1007', async () => {
    for (const [name, payload, at, len] of cases) {
      for (let cut = at - 1; cut <= Math.min(at + len + 1, payload.length - 1); cut++) {
        const frames = [frame(OP.TEXT, payload.subarray(0, cut), { fin: false }), frame(OP.CONT, payload.subarray(cut))];
        await expectFailure(plain.port, frames, 1007, { what: `${name} cut at ${cut}` });
      }
      // One byte per fragment.
      const frames = [];
      for (let i = 0; i < payload.length; i++) frames.push(frame(i ? OP.CONT : OP.TEXT, payload.subarray(i, i + 1), { fin: i === payload.length - 1 }));
      await expectFailure(plain.port, frames, 1007, { what: `${name} one byte per fragment` });
    }
  });

  test('the close (1007) comes as soon as the bad byte arrives, before the rest of the frame', async () => {
    for (const [name, b] of [['C0 80', [0xc0, 0x80]], ['ED A0 80', [0xed, 0xa0]], ['F4 90', [0xf4, 0x90]], ['lone 80', [0x80]], ['FF', [0xff]]]) {
      // A 100000-byte text frame of which only the first bytes are sent.
      const payload = Buffer.alloc(100000, 'a'.charCodeAt(0));
      u8(b).copy(payload, 10);
      const f = frame(OP.TEXT, payload);
      await expectFailure(plain.port, f.subarray(0, 14 + 10 + b.length), 1007, { what: `${name} early in a frame` });
      // The same inside the second fragment of a message.
      const first = frame(OP.TEXT, 'valid start ', { fin: false });
      const second = frame(OP.CONT, payload);
      await expectFailure(plain.port, Buffer.concat([first, second.subarray(0, 14 + 10 + b.length)]), 1007, { what: `${name} early in a continuation` });
    }
  });

  test('valid text, noncharacters and boundary code points echo, whole and split at every byte', async () => {
    const samples = [
      'κόσμε',
      '\u{7f}\u{80}\u{7ff}\u{800}\u{fffd}\u{ffff}\u{fffe}\u{fdd0}\u{fdef}\u{10000}\u{10ffff}\u{1fffe}\u{10fffe}',
      '\u{d7ff}\u{e000}',
      'emoji 😀 and 𝄞',
    ];
    const c = await WsRaw.connect(plain.port);
    try {
      for (const s of samples) {
        const b = txt(s);
        assert.equal((await echo(c, OP.TEXT, b)).payload.toString(), s);
        for (let cut = 1; cut < b.length; cut++) {
          c.send([frame(OP.TEXT, b.subarray(0, cut), { fin: false }), frame(OP.CONT, b.subarray(cut))]);
          const m = await c.readMessage();
          assert.ok(m.payload.equals(b), `${s} cut at ${cut}`);
        }
      }
    } finally {
      c.destroy();
    }
  });

  test('invalid UTF-8 in a binary message is fine', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      const p = u8(0xc0, 0x80, 0xed, 0xa0, 0x80, 0xff);
      assert.ok((await echo(c, OP.BINARY, p)).payload.equals(p));
    } finally {
      c.destroy();
    }
  });
});

// ---- closing handshake ---------------------------------------------------------------------------

describe('close', () => {
  const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
  for (const code of valid) {
    test(`close ${code} is echoed and the server closes TCP`, async () => {
      const c = await WsRaw.connect(plain.port);
      try {
        c.send(closeFrame(code, 'bye'));
        const cl = await c.expectClose();
        assert.equal(cl.code, code);
        assert.equal(cl.frame.payload.length <= 125, true);
        assert.notEqual(await c.waitTcpClose(1200), null, 'server closes TCP after the handshake');
      } finally {
        c.destroy();
      }
    });
  }

  test('an empty close is answered with an empty close', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      c.send(closeFrame());
      const cl = await c.expectClose();
      assert.equal(cl.frame.payload.length, 0);
      assert.notEqual(await c.waitTcpClose(1200), null);
    } finally {
      c.destroy();
    }
  });

  test('a close with a 123-byte UTF-8 reason is accepted', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      const reason = 'é'.repeat(61) + 'x'; // 123 bytes
      assert.equal(txt(reason).length, 123);
      c.send(closeFrame(1000, reason));
      assert.equal((await c.expectClose()).code, 1000);
    } finally {
      c.destroy();
    }
  });

  const invalid = [0, 1, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  test(`invalid close codes ${invalid.join(', ')} -> 1002`, async () => {
    for (const code of invalid) await expectFailure(plain.port, closeFrame(code, 'x'), 1002, { what: `code ${code}` });
  });

  test('a 1-byte close payload -> 1002', async () => {
    await expectFailure(plain.port, frame(OP.CLOSE, u8(0x03)), 1002, { what: '1-byte close' });
  });

  test('a close reason that is not UTF-8 fails the connection', async () => {
    for (const r of [u8(0xff), u8(0xc0, 0x80), u8(0xed, 0xa0, 0x80), u8(0xe2, 0x82)]) {
      await expectFailure(plain.port, closeFrame(1000, r), [1002, 1007], { what: `reason ${r.toString('hex')}` });
    }
  });

  test('data after a close is ignored', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      c.send([frame(OP.TEXT, 'before'), closeFrame(1000), frame(OP.TEXT, 'after'), frame(OP.PING, 'after')]);
      assert.equal((await c.readMessage()).payload.toString(), 'before');
      assert.equal((await c.expectClose()).code, 1000);
      await c.waitTcpClose(1200);
      assert.equal(c.frames.length, 0, 'no echo or pong after the close');
    } finally {
      c.destroy();
    }
  });

  test('a close in the middle of a fragmented message is honoured', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      c.send([frame(OP.TEXT, 'half', { fin: false }), closeFrame(1001)]);
      assert.equal((await c.expectClose()).code, 1001);
      assert.notEqual(await c.waitTcpClose(1200), null);
    } finally {
      c.destroy();
    }
  });

  test('after failing a connection the server closes TCP within a second without an answer', async () => {
    // The server half-closes at once (FIN after its close frame), then waits at most a second
    // for the client to close before closing the socket for good; this client never does.
    const c = await WsRaw.connect(plain.port);
    try {
      c.send(frame(OP.TEXT, 'x', { rsv3: true }));
      const cl = await c.expectClose();
      assert.equal(cl.code, 1002);
      const fin = await c.waitTcpClose(1500);
      assert.notEqual(fin, null, 'FIN after the close frame');
      assert.ok(c.tcpClosedAt - cl.frame.at < 200, `FIN ${c.tcpClosedAt - cl.frame.at} ms after the close frame`);
      const gone = await c.waitGone(3000);
      assert.notEqual(gone, null, 'socket closed');
      const total = c.errorAt - cl.frame.at;
      assert.ok(total <= 1300, `socket closed ${total} ms after the close frame`);
      assert.ok(total >= 700, `the server waited for the client before closing (${total} ms)`);
      assert.equal(c.frames.length, 0, 'nothing after the close frame');
    } finally {
      c.destroy();
    }
  });

  test('a client that answers the close lets the server close at once, without RST', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      // The rest of a refused frame is still arriving when the server fails the connection.
      const f = frame(OP.TEXT, Buffer.concat([u8(0xff), Buffer.alloc(50000, 0x61)]));
      await c.sendAsync(f.subarray(0, 20));
      const cl = await c.expectClose();
      assert.equal(cl.code, 1007);
      await c.sendAsync(f.subarray(20));
      c.replyClose(1007);
      c.sock.end();
      assert.notEqual(await c.waitTcpClose(1500), null);
      await sleep(50);
      assert.equal(c.error, null, `no reset: ${c.error?.code}`);
    } finally {
      c.destroy();
    }
  });

  test('on shutdown the server sends 1001 and closes TCP within a second when the client never answers', async () => {
    const r = await startRoost({ args: ['--conformance'] });
    try {
      const c = await WsRaw.connect(r.port);
      assert.equal((await echo(c, OP.TEXT, 'x')).payload.toString(), 'x');
      r.process.kill('SIGTERM');
      const cl = await c.expectClose(3000);
      assert.equal(cl.code, 1001);
      const t = await c.waitTcpClose(2000);
      assert.notEqual(t, null, 'TCP closed');
      assert.ok(Date.now() - cl.frame.at <= 1300, `TCP closed ${Date.now() - cl.frame.at} ms after the close frame`);
      c.destroy();
    } finally {
      await r.stop();
      await r.cleanup();
    }
  });
});

// ---- protocol violations -> 1002 -----------------------------------------------------------------

describe('protocol errors', () => {
  const cases = [
    ['RSV1 on text without an extension', frame(OP.TEXT, 'x', { rsv1: true })],
    ['RSV2 on text', frame(OP.TEXT, 'x', { rsv2: true })],
    ['RSV3 on binary', frame(OP.BINARY, 'x', { rsv3: true })],
    ['all RSV bits', frame(OP.TEXT, 'x', { rsv1: true, rsv2: true, rsv3: true })],
    ['RSV1 on ping', frame(OP.PING, 'x', { rsv1: true })],
    ['RSV2 on close', closeFrame(1000, '', { rsv2: true })],
    ['RSV3 on a continuation', [frame(OP.TEXT, 'a', { fin: false }), frame(OP.CONT, 'b', { rsv3: true })]],
    ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((op) => [`opcode ${op}`, frame(op, 'x')]),
    ['opcode 3 inside a fragmented message', [frame(OP.TEXT, 'a', { fin: false }), frame(3, 'b')]],
    ['unmasked text', frame(OP.TEXT, 'x', { mask: false })],
    ['unmasked empty binary', frame(OP.BINARY, '', { mask: false })],
    ['unmasked ping', frame(OP.PING, 'x', { mask: false })],
    ['unmasked close', closeFrame(1000, '', { mask: false })],
    ['unmasked continuation', [frame(OP.TEXT, 'a', { fin: false }), frame(OP.CONT, 'b', { mask: false })]],
    ['fragmented ping', frame(OP.PING, 'x', { fin: false })],
    ['fragmented pong', frame(OP.PONG, 'x', { fin: false })],
    ['fragmented close', closeFrame(1000, '', { fin: false })],
    ['ping of 126 bytes', frame(OP.PING, Buffer.alloc(126))],
    ['pong of 126 bytes', frame(OP.PONG, Buffer.alloc(126))],
    ['close of 126 bytes', closeFrame(1000, Buffer.alloc(124, 0x61))],
    ['ping with a 16-bit length of 5', frame(OP.PING, 'hello', { lenBytes: 2 })],
    ['continuation without a start', frame(OP.CONT, 'x')],
    ['non-final continuation without a start', frame(OP.CONT, 'x', { fin: false })],
    ['continuation after a complete message', async (c) => {
      c.send([frame(OP.TEXT, 'done'), frame(OP.CONT, 'x')]);
      assert.equal((await c.readMessage()).payload.toString(), 'done');
    }],
    ['text inside a fragmented text message', [frame(OP.TEXT, 'a', { fin: false }), frame(OP.TEXT, 'b')]],
    ['binary inside a fragmented text message', [frame(OP.TEXT, 'a', { fin: false }), frame(OP.BINARY, 'b')]],
    ['text inside a fragmented binary message', [frame(OP.BINARY, 'a', { fin: false }), frame(OP.TEXT, 'b', { fin: false })]],
    ['64-bit length with the top bit set', frame(OP.BINARY, '', { lenBytes: 8, rawLen64: u8(0x80, 0, 0, 0, 0, 0, 0, 5) })],
  ];
  for (const [name, bytes] of cases) {
    test(`${name} -> 1002`, async () => {
      await expectFailure(plain.port, bytes, 1002, { what: name });
    });
  }

  test('messages before the violation are echoed first', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      c.send([frame(OP.TEXT, 'one'), frame(OP.PING, 'p'), frame(OP.BINARY, 'two'), frame(7, 'bad'), frame(OP.TEXT, 'never')]);
      assert.equal((await c.readMessage()).payload.toString(), 'one');
      assert.equal((await c.readFrame()).opcode, OP.PONG);
      assert.equal((await c.readMessage()).payload.toString(), 'two');
      assert.equal((await c.expectClose()).code, 1002);
      await c.waitTcpClose(1200);
      assert.equal(c.frames.length, 0);
    } finally {
      c.destroy();
    }
  });

  test('a bad first header byte fails at once, before the rest of the frame', async () => {
    // opcode 3; RSV1 on text; a ping without FIN; a continuation without a start
    for (const b0 of [0x83, 0xc1, 0x09, 0x80]) {
      await expectFailure(plain.port, u8(b0), 1002, { what: `byte ${b0.toString(16)}` });
    }
    // An unmasked frame is known from the second byte.
    await expectFailure(plain.port, u8(0x81, 0x7e), 1002, { what: 'unmasked, 2 bytes' });
  });
});

// ---- size limits -> 1009 ---------------------------------------------------------------------------

describe('limits', () => {
  test('a frame announcing more than the message cap -> 1009 at its header', async () => {
    for (const len of [MAX_MESSAGE + 1, 2 ** 32, 2 ** 53]) {
      const hdr = frame(OP.BINARY, Buffer.alloc(0), { len, lenBytes: 8 });
      await expectFailure(plain.port, hdr, 1009, { what: `length ${len}` });
    }
  });

  test('fragments summing past the cap -> 1009 at the fragment that passes it', async () => {
    const half = Buffer.alloc(MAX_MESSAGE / 2);
    await expectFailure(plain.port, async (c) => {
      c.send([frame(OP.BINARY, half, { fin: false }), frame(OP.CONT, half, { fin: false })]);
      c.send(frame(OP.CONT, Buffer.alloc(0), { len: 1, fin: true }).subarray(0, 6));
    }, 1009, { what: 'cap + 1 over three fragments' });
  });

  test('too many fragments in one message -> 1009', async () => {
    const parts = [frame(OP.TEXT, 'a', { fin: false })];
    for (let i = 0; i < 1100; i++) parts.push(frame(OP.CONT, 'a', { fin: false }));
    await expectFailure(plain.port, Buffer.concat(parts), 1009, { what: '1100 fragments' });
  });

  test('1000 fragments are still fine', async () => {
    const c = await WsRaw.connect(plain.port);
    try {
      const parts = [frame(OP.TEXT, 'a', { fin: false })];
      for (let i = 0; i < 998; i++) parts.push(frame(OP.CONT, 'a', { fin: false }));
      parts.push(frame(OP.CONT, 'a'));
      c.send(Buffer.concat(parts));
      assert.equal((await c.readMessage()).payload.toString(), 'a'.repeat(1000));
    } finally {
      c.destroy();
    }
  });

  async function echoMax(port) {
    const c = await WsRaw.connect(port);
    try {
      const p = Buffer.alloc(MAX_MESSAGE);
      for (let i = 0; i < p.length; i += 4096) p[i] = i >> 12;
      const m = await echo(c, OP.BINARY, p, 20000);
      assert.equal(m.payload.length, MAX_MESSAGE);
      assert.ok(m.payload.equals(p));
    } finally {
      c.destroy();
    }
  }

  test('a message of exactly the cap (16 MiB) is echoed', () => echoMax(plain.port));

  // The output cap (default 8 MiB) measures a reader's backlog, not the size of one reply: a
  // 16 MiB echo to a client that keeps up goes through (Autobahn 9.1.5/9.1.6, 9.2.5/9.2.6).
  // (defl runs with the default cap; no extension is offered here, so the echo is plain.)
  test('a 16 MiB echo with the default output cap', () => echoMax(defl.port));
});

// ---- permessage-deflate ------------------------------------------------------------------------

const TAIL = u8(0x00, 0x00, 0xff, 0xff);

/** A raw deflate stream that keeps its window between messages (context takeover). */
class Compressor {
  constructor(opts = {}) {
    this.z = zlib.createDeflateRaw(opts);
    this.out = [];
    this.z.on('data', (d) => this.out.push(d));
  }
  compress(buf) {
    return new Promise((resolve) => {
      this.z.write(buf);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const all = Buffer.concat(this.out);
        this.out = [];
        assert.ok(all.subarray(-4).equals(TAIL));
        resolve(all.subarray(0, -4));
      });
    });
  }
  close() {
    this.z.close();
  }
}

/** Compress one message without context (a fresh stream). */
function compressOnce(buf) {
  const all = zlib.deflateRawSync(buf, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.ok(all.subarray(-4).equals(TAIL));
  return all.subarray(0, -4);
}

/** Inflate the server's messages; a fresh inflater per message when it keeps no context. */
class Decompressor {
  constructor() {
    this.z = zlib.createInflateRaw();
    this.out = [];
    this.z.on('data', (d) => this.out.push(d));
  }
  inflate(buf) {
    return new Promise((resolve, reject) => {
      this.z.once('error', reject);
      this.z.write(Buffer.concat([buf, TAIL]));
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const all = Buffer.concat(this.out);
        this.out = [];
        resolve(all);
      });
    });
  }
  close() {
    this.z.close();
  }
}

function extParams(header) {
  assert.ok(header, 'Sec-WebSocket-Extensions present');
  const [name, ...params] = header.split(';').map((s) => s.trim());
  assert.equal(name, 'permessage-deflate');
  return new Set(params);
}

describe('permessage-deflate', () => {
  test('offers are negotiated; unknown or malformed offers are declined', async () => {
    const cases = [
      ['permessage-deflate', ['server_no_context_takeover']],
      ['permessage-deflate; client_max_window_bits', ['server_no_context_takeover']],
      ['permessage-deflate; client_no_context_takeover', ['server_no_context_takeover', 'client_no_context_takeover']],
      ['permessage-deflate; server_no_context_takeover', ['server_no_context_takeover']],
      ['permessage-deflate; server_max_window_bits=10', ['server_no_context_takeover', 'server_max_window_bits=10']],
      ['permessage-deflate; client_max_window_bits=12', ['server_no_context_takeover', 'client_max_window_bits=12']],
      ['permessage-deflate; foo=1, permessage-deflate', ['server_no_context_takeover']],
      ['x-webkit-deflate-frame', null],
      ['permessage-deflate; foo', null],
      ['permessage-deflate; server_max_window_bits=16', null],
      ['permessage-deflate; server_max_window_bits=7', null],
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', null],
      ['permessage-deflate; client_no_context_takeover=1', null],
    ];
    for (const [offer, want] of cases) {
      const c = await WsRaw.connect(defl.port, { extensions: offer });
      const got = c.response.headers['sec-websocket-extensions'];
      if (want === null) assert.equal(got, undefined, offer);
      else {
        const params = extParams(got);
        for (const p of want) assert.ok(params.has(p), `${offer}: ${got} lacks ${p}`);
        assert.equal(params.size, want.length, `${offer}: ${got}`);
      }
      c.destroy();
    }
  });

  async function roundTrips(offer, contextTakeover) {
    const c = await WsRaw.connect(defl.port, { extensions: offer });
    const comp = new Compressor();
    try {
      extParams(c.response.headers['sec-websocket-extensions']);
      const msgs = [
        txt('Hello, hello, hello, permessage-deflate!'),
        txt('Hello, hello, hello, permessage-deflate!'),
        txt('Hello, hello, hello, permessage-deflate! '.repeat(100)),
        Buffer.alloc(200000, 7),
        txt(''),
        txt('κόσμε '.repeat(1000)),
      ];
      const sizes = [];
      for (const [i, m] of msgs.entries()) {
        const binary = i === 3;
        const packed = contextTakeover ? await comp.compress(m) : compressOnce(m);
        sizes.push(packed.length);
        c.send(frame(binary ? OP.BINARY : OP.TEXT, packed, { rsv1: true }));
        const e = await c.readMessage();
        assert.equal(e.opcode, binary ? OP.BINARY : OP.TEXT);
        // The server keeps no context (server_no_context_takeover): each reply inflates alone.
        assert.equal(e.rsv1, true, 'the reply is compressed');
        const d = new Decompressor();
        const plainReply = await d.inflate(e.payload);
        d.close();
        assert.ok(plainReply.equals(m), `message ${i} round trip`);
      }
      if (contextTakeover) assert.ok(sizes[1] < sizes[0] / 2, `the second message used the window (${sizes})`);
      // Uncompressed messages are fine on a deflate connection too.
      c.send(frame(OP.TEXT, 'not compressed'));
      const e = await c.readMessage();
      const d = new Decompressor();
      assert.equal((e.rsv1 ? await d.inflate(e.payload) : e.payload).toString(), 'not compressed');
      d.close();
      // And the compressor's window still works after it.
      const again = contextTakeover ? await comp.compress(msgs[0]) : compressOnce(msgs[0]);
      c.send(frame(OP.TEXT, again, { rsv1: true }));
      const e2 = await c.readMessage();
      const d2 = new Decompressor();
      assert.ok((await d2.inflate(e2.payload)).equals(msgs[0]));
      d2.close();
    } finally {
      comp.close();
      c.destroy();
    }
  }

  test('round trips with client context takeover', () => roundTrips('permessage-deflate; client_max_window_bits', true));
  test('round trips with client_no_context_takeover', () => roundTrips('permessage-deflate; client_no_context_takeover', false));
  test('round trips with server_no_context_takeover offered', () => roundTrips('permessage-deflate; server_no_context_takeover', true));

  test('a compressed message in fragments (RSV1 on the first only), with a ping between', async () => {
    const c = await WsRaw.connect(defl.port, { extensions: 'permessage-deflate' });
    try {
      const m = txt('fragmented and compressed '.repeat(50));
      const p = compressOnce(m);
      const a = Math.floor(p.length / 3);
      c.send([frame(OP.TEXT, p.subarray(0, a), { rsv1: true, fin: false }), frame(OP.PING, 'mid')]);
      assert.equal((await c.readFrame(1000)).opcode, OP.PONG);
      c.send([frame(OP.CONT, p.subarray(a, 2 * a), { fin: false }), frame(OP.CONT, p.subarray(2 * a))]);
      const e = await c.readMessage();
      const d = new Decompressor();
      assert.ok((await d.inflate(e.payload)).equals(m));
      d.close();
    } finally {
      c.destroy();
    }
  });

  test('edge encodings: empty compressed payload, a final (BFINAL) block, 8-bit windows', async () => {
    const c = await WsRaw.connect(defl.port, { extensions: 'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8' });
    const comp = new Compressor({ windowBits: 9 });
    try {
      const params = extParams(c.response.headers['sec-websocket-extensions']);
      assert.ok(params.has('server_max_window_bits=8'));
      const inflate = async (m) => {
        if (!m.rsv1) return m.payload;
        const d = new Decompressor();
        const out = await d.inflate(m.payload);
        d.close();
        return out;
      };
      // An empty compressed payload is an empty message.
      c.send(frame(OP.TEXT, Buffer.alloc(0), { rsv1: true }));
      assert.equal((await inflate(await c.readMessage())).length, 0);
      // A sender that ends its deflate stream (BFINAL, no 00 00 ff ff tail to strip).
      const m1 = txt('final block '.repeat(20));
      c.send(frame(OP.TEXT, zlib.deflateRawSync(m1), { rsv1: true }));
      assert.ok((await inflate(await c.readMessage())).equals(m1));
      // Then a context-takeover stream with a 512-byte window (zlib's smallest for raw deflate),
      // with repeats at distances of 300-400 bytes; the reply inflates within the window.
      let seed = 7;
      const block = Buffer.from(Array.from({ length: 400 }, () => 97 + ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 26)));
      const parts = [];
      for (let i = 0; i < 200; i++) parts.push(block.subarray(0, 300 + (i % 100)));
      const m2 = Buffer.concat(parts);
      for (let k = 0; k < 2; k++) {
        c.send(frame(OP.TEXT, await comp.compress(m2), { rsv1: true }));
        const e = await c.readMessage();
        const out = zlib.inflateRawSync(Buffer.concat([e.payload, TAIL]), { windowBits: 8, finishFlush: zlib.constants.Z_SYNC_FLUSH });
        assert.ok(out.equals(m2), `message ${k}`);
      }
    } finally {
      comp.close();
      c.destroy();
    }
  });

  test('deflate violations: RSV1 on a continuation or a control frame -> 1002', async () => {
    const connect = { extensions: 'permessage-deflate' };
    await expectFailure(defl.port, [frame(OP.TEXT, compressOnce(txt('a')), { rsv1: true, fin: false }), frame(OP.CONT, '', { rsv1: true })], 1002, { connect, what: 'RSV1 continuation' });
    await expectFailure(defl.port, frame(OP.PING, '', { rsv1: true }), 1002, { connect, what: 'RSV1 ping' });
    await expectFailure(defl.port, frame(OP.TEXT, 'x', { rsv2: true }), 1002, { connect, what: 'RSV2' });
    // Without a negotiated extension RSV1 stays an error on the deflate-enabled server.
    await expectFailure(defl.port, frame(OP.TEXT, compressOnce(txt('a')), { rsv1: true }), 1002, { what: 'RSV1 not negotiated' });
  });

  test('corrupt compressed data and compressed invalid UTF-8 -> 1007', async () => {
    const connect = { extensions: 'permessage-deflate' };
    await expectFailure(defl.port, frame(OP.BINARY, u8(0xff, 0xff, 0xff, 0xff), { rsv1: true }), [1007, 1002], { connect, what: 'corrupt data' });
    await expectFailure(defl.port, frame(OP.TEXT, compressOnce(u8(0x61, 0xed, 0xa0, 0x80, 0x61)), { rsv1: true }), 1007, { connect, what: 'compressed surrogate' });
    await expectFailure(defl.port, frame(OP.TEXT, compressOnce(u8(0x61, 0xe2, 0x82)), { rsv1: true }), 1007, { connect, what: 'compressed truncated' });
  });

  test('a compressed message inflating past the cap -> 1009', async () => {
    const connect = { extensions: 'permessage-deflate' };
    const p = compressOnce(Buffer.alloc(MAX_MESSAGE + 1));
    await expectFailure(defl.port, frame(OP.BINARY, p, { rsv1: true }), 1009, { connect, what: 'cap + 1 inflated' });
  });

  test('a decompression bomb (100 MB of zeros) -> 1009 quickly, RSS bounded, others served', async () => {
    const bomb = compressOnce(Buffer.alloc(100e6));
    assert.ok(bomb.length < 200000, `bomb is ${bomb.length} bytes`);
    const before = rssKiB(defl.pid);
    const start = Date.now();
    // Four at once, one of them in fragments.
    const n = 4;
    const runs = [];
    for (let i = 0; i < n; i++) {
      runs.push(expectFailure(defl.port, async (c) => {
        if (i === 0) {
          const k = Math.floor(bomb.length / 4);
          c.send([frame(OP.BINARY, bomb.subarray(0, k), { rsv1: true, fin: false }), frame(OP.CONT, bomb.subarray(k, 2 * k), { fin: false }), frame(OP.CONT, bomb.subarray(2 * k))]);
        } else c.send(frame(i % 2 ? OP.TEXT : OP.BINARY, bomb, { rsv1: true }));
      }, 1009, { connect: { extensions: 'permessage-deflate' }, what: `bomb ${i}` }));
    }
    // Meanwhile other clients are served.
    runs.push(wsLibEcho(defl, 'unaffected').then((s) => assert.equal(s, 'unaffected')));
    await Promise.all(runs);
    const took = Date.now() - start;
    assert.ok(took < (sanitized ? 8000 : 3000), `bombs refused in ${took} ms`);
    const grown = rssKiB(defl.pid) - before;
    // Each bomb may inflate up to the 16 MiB cap before it is refused; never 100 MB.
    assert.ok(grown < (sanitized ? 200 : 100) * 1024, `RSS grew by ${grown} KiB`);
    assert.equal(await wsLibEcho(defl, 'after the bombs'), 'after the bombs');
  });

  test('the ws client with perMessageDeflate echoes text and binary', async () => {
    for (const opts of [
      { threshold: 0 },
      { threshold: 0, clientNoContextTakeover: true },
      { threshold: 0, serverNoContextTakeover: true, clientMaxWindowBits: 10 },
    ]) {
      const ws = new WebSocket(`ws://127.0.0.1:${defl.port}/ws-echo`, { perMessageDeflate: opts });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      try {
        assert.match(ws.extensions, /permessage-deflate/);
        const next = () => new Promise((resolve) => ws.once('message', (d, isBinary) => resolve({ d, isBinary })));
        for (const m of ['hello', 'hello', 'repeat '.repeat(5000), '', '😀 κόσμε']) {
          const p = next();
          ws.send(m);
          const { d, isBinary } = await p;
          assert.equal(isBinary, false);
          assert.equal(d.toString(), m);
        }
        for (const n of [1, 1000, 300000]) {
          const b = Buffer.alloc(n);
          for (let i = 0; i < n; i++) b[i] = (i % 251) & 0xff;
          const p = next();
          ws.send(b);
          const { d, isBinary } = await p;
          assert.equal(isBinary, true);
          assert.ok(Buffer.from(d).equals(b));
        }
      } finally {
        ws.close();
      }
    }
  });
});

// ---- interop -------------------------------------------------------------------------------------

describe('interop', () => {
  test('the npm ws client echoes text, binary, pings and close codes', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${plain.port}/ws-echo`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const next = () => new Promise((resolve) => ws.once('message', (d, isBinary) => resolve({ d, isBinary })));
    for (const m of ['', 'hello', '€'.repeat(40000)]) {
      const p = next();
      ws.send(m);
      const { d, isBinary } = await p;
      assert.equal(isBinary, false);
      assert.equal(d.toString(), m);
    }
    for (const n of [0, 126, 70000, 2 << 20]) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = i & 0xff;
      const p = next();
      ws.send(b);
      const { d, isBinary } = await p;
      assert.equal(isBinary, true);
      assert.ok(Buffer.from(d).equals(b));
    }
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping(Buffer.from('ping!'));
    assert.equal((await pong).toString(), 'ping!');
    const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.close(4321, 'done');
    assert.deepEqual(await closed, { code: 4321, reason: '' });
  });

  test('headless Chromium echoes text and binary (with and without deflate)', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    try {
      for (const r of [plain, defl]) {
        const page = await browser.newPage();
        await page.goto(`${r.url}/healthz`);
        const res = await page.evaluate(async (url) => {
          const ws = new WebSocket(url);
          ws.binaryType = 'arraybuffer';
          await new Promise((resolve, reject) => {
            ws.onopen = resolve;
            ws.onerror = () => reject(new Error('ws error'));
          });
          const next = () => new Promise((resolve) => {
            ws.onmessage = (e) => resolve(e.data);
          });
          const out = { extensions: ws.extensions };
          let p = next();
          ws.send('héllo 😀');
          out.text = await p;
          p = next();
          const big = 'abc'.repeat(100000);
          ws.send(big);
          out.bigOk = (await p) === big;
          p = next();
          ws.send(new Uint8Array([0, 1, 2, 254, 255]).buffer);
          out.bin = Array.from(new Uint8Array(await p));
          const bigBin = new Uint8Array(200000);
          for (let i = 0; i < bigBin.length; i++) bigBin[i] = (i * 31) & 0xff;
          p = next();
          ws.send(bigBin);
          const back = new Uint8Array(await p);
          out.bigBinOk = back.length === bigBin.length && back.every((v, i) => v === bigBin[i]);
          const closed = new Promise((resolve) => {
            ws.onclose = (e) => resolve({ code: e.code, clean: e.wasClean });
          });
          ws.close(4000, 'bye');
          out.close = await closed;
          return out;
        }, `ws://127.0.0.1:${r.port}/ws-echo`);
        assert.equal(res.text, 'héllo 😀');
        assert.equal(res.bigOk, true);
        assert.deepEqual(res.bin, [0, 1, 2, 254, 255]);
        assert.equal(res.bigBinOk, true);
        assert.deepEqual(res.close, { code: 4000, clean: true });
        if (r === defl) assert.match(res.extensions, /permessage-deflate/);
        else assert.equal(res.extensions, '');
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });
});

// ---- slow readers ---------------------------------------------------------------------------------

describe('backpressure', () => {
  async function dropped(r, act, what) {
    const c = await WsRaw.connect(r.port);
    c.pause(); // never read: the server's output backs up
    const capsBefore = (r.logs().match(/over the output cap/g) || []).length;
    try {
      const sent = await act(c);
      const ok = await until(() => (r.logs().match(/over the output cap/g) || []).length > capsBefore, 10000);
      assert.ok(ok, `${what}: the server did not drop the slow reader`);
      // Others are served meanwhile.
      assert.equal(await wsLibEcho(r, what), what);
      // Reading now yields only what was in flight, then the end of the connection.
      c.resume();
      assert.notEqual(await c.waitTcpClose(5000), null, `${what}: connection closed`);
      assert.ok(c.bytesIn < sent, `${what}: got ${c.bytesIn} of ${sent} bytes`);
    } finally {
      c.destroy();
    }
  }

  test('a reader that never reads is dropped at the output cap; others are served', async () => {
    await dropped(small, async (c) => {
      const msg = frame(OP.BINARY, Buffer.alloc(1 << 20, 1));
      let sent = 0;
      for (let i = 0; i < 48; i++) {
        if (!(await c.sendAsync(msg))) break;
        sent += msg.length;
      }
      return sent;
    }, 'echo flood');
  });

  test('a flood of pings whose pongs are never read is bounded the same way', async () => {
    await dropped(small, async (c) => {
      const pings = [];
      for (let i = 0; i < 10000; i++) pings.push(frame(OP.PING, Buffer.alloc(125, i & 0xff)));
      const batch = Buffer.concat(pings);
      let sent = 0;
      for (let i = 0; i < 24; i++) {
        if (!(await c.sendAsync(batch))) break;
        sent += 10000 * 127;
      }
      return sent;
    }, 'ping flood');
  });
});
