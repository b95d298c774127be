// chat-load.mjs - the driver of the durable chat scenarios, the same for roost and for the
// Node.js reference (bench/peers/chat-server.mjs). run.sh pins it to the load generator's CPU.
//
//   node bench/chat-load.mjs --url http://127.0.0.1:PORT --mode chat --users 50 --rate 50,500 \
//        [--warmup 1] [--measure 3] [--bound 40] [--label L]
//     registers USERS accounts (over GraphQL), connects a Socket.IO client (WebSocket) per
//     user and authenticates it (initialConnection -> auth true), pairs them (0 with 1, 2 with
//     3, ...), opens each pair's chatroom with getLocation, then the first of every pair sends
//     `sendMessage` over HTTP/1.1 keep-alive, open loop at RATE messages/s in total (at most
//     16 in flight per sender: beyond that an offered message is counted as `missed`).
//     Latency: sendMessage sent -> `chatroom` event with that text received by the other
//     member's socket. Messages sent during the warm-up are not counted. A list of rates runs
//     one phase per rate on the same accounts (the backlog drained in between); each phase
//     prints its own line, labelled SCENARIO-r<RATE>|target|round from --label.
//   --mode setup-writes --out FILE: registers USERS accounts in pairs, opens the rooms and writes
//     one line per pair for bench/wrk.lua: "Bearer id:secret<TAB>sendMessage request body".
//   --mode setup-user --out FILE: registers one account and writes an anonymous
//     `user(username:)` query line for wrk.lua.
// Output (chat): one JSON line like loadgen's: label, proto "chat", mode, target, conns, ready,
// offered, measure_s, msgs, rate, lat_us {p50 p90 p99 p999 max mean}, ack_us {p50 p99} (the
// sendMessage response: the commit), missed, lost, errors, timeout. Loopback targets only.
import http from "node:http";
import fs from "node:fs";
import crypto from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(new URL("./peers/package.json", import.meta.url));
const { io } = require("socket.io-client");

const o = { url: "", mode: "chat", users: 50, rate: "50,500", warmup: 1, measure: 3, bound: 40, label: "", out: "" };
for (let i = 2; i < process.argv.length; i += 2) {
    const k = process.argv[i].replace(/^--/, "");
    if (!(k in o) || process.argv[i + 1] === undefined) {
        console.error(`chat-load: bad argument ${process.argv[i]}`);
        process.exit(2);
    }
    o[k] = typeof o[k] === "number" ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
const target = new URL(o.url);
if (!/^127\.\d+\.\d+\.\d+$|^\[::1\]$|^localhost$/.test(target.hostname)) {
    console.error(`chat-load: refusing a target outside loopback: ${target.hostname}`);
    process.exit(2);
}
const PASSWORD = "correct horse battery";
const MAX_IN_FLIGHT = 16;
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const now = () => performance.now();
const result = { label: o.label, proto: "chat", mode: o.mode, target: target.host, conns: o.users, ready: 0 };
let errors = 0;

// bounded in time whatever happens: print what was done and leave
const bound = setTimeout(() => finish(true), o.bound * 1000);
let finishing = null;

function post(body, auth) {
    return new Promise((resolve) => {
        const data = JSON.stringify(body);
        const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(data) };
        if (auth) headers.authorization = `Bearer ${auth.id}:${auth.secretkey}`;
        const req = http.request(
            { host: target.hostname, port: target.port, path: "/graphql", method: "POST", headers, agent },
            (res) => {
                const chunks = [];
                res.on("data", (c) => chunks.push(c));
                res.on("end", () => {
                    let json = null;
                    try {
                        json = JSON.parse(Buffer.concat(chunks).toString());
                    } catch {}
                    resolve({ status: res.statusCode, json });
                });
            },
        );
        req.on("error", (e) => resolve({ status: 0, json: null, error: e }));
        req.end(data);
    });
}

async function gql(query, variables, auth, retries = 0) {
    for (let i = 0; ; i++) {
        const r = await post({ query, variables }, auth);
        if (r.status === 200 && r.json?.data && !r.json.errors) return r.json.data;
        if (i >= retries || !(r.status === 429 || r.status === 503)) {
            throw new Error(`GraphQL ${r.status}: ${JSON.stringify(r.json?.errors ?? r.error?.message ?? r.json)}`);
        }
        await new Promise((res) => setTimeout(res, 100 + 100 * i));
    }
}

const REGISTER = `mutation R($u: String!, $d: String!, $p: String!) {
  register(username: $u, displayName: $d, password: $p) { id secretkey user { id username } } }`;
const OPEN = `mutation O($id: ID!) { getLocation(userId: $id) { id } }`;
const SEND = `mutation S($room: ID!, $text: String!) { sendMessage(chatroomId: $room, text: $text) { id createdAt } }`;

async function registerAll(n) {
    const tag = crypto.randomBytes(4).toString("hex");
    const users = new Array(n);
    let next = 0;
    // password hashing is deliberately slow: a few at a time, retried when the server is busy
    const worker = async () => {
        while (next < n) {
            const i = next++;
            const d = await gql(REGISTER, { u: `b${tag}_${i}`, d: `Bench ${i}`, p: PASSWORD }, null, 50);
            users[i] = { id: d.register.id, secretkey: d.register.secretkey, userId: d.register.user.id, name: `b${tag}_${i}` };
        }
    };
    await Promise.all(Array.from({ length: Math.min(4, n) }, worker));
    return users;
}

async function openRooms(users) {
    const pairs = [];
    for (let k = 0; k + 1 < users.length; k += 2) pairs.push({ a: users[k], b: users[k + 1] });
    await Promise.all(pairs.map(async (p) => {
        p.room = (await gql(OPEN, { id: p.b.userId }, p.a)).getLocation.id;
    }));
    return pairs;
}

function connect(u) {
    return new Promise((resolve, reject) => {
        const s = io(o.url, { forceNew: true, reconnection: false, transports: ["websocket"], timeout: 10000 });
        s.once("connect_error", reject);
        s.once("connect", () => {
            s.once("auth", (ok) => (ok === true ? resolve(s) : reject(new Error("auth refused"))));
            s.emit("initialConnection", { id: u.id, secretkey: u.secretkey });
        });
    });
}

function pct(sorted, p) {
    if (!sorted.length) return 0;
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function dist(xs) {
    const s = Float64Array.from(xs).sort();
    const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
    const r = (x) => Math.round(x * 10) / 10;
    return { p50: r(pct(s, 50)), p90: r(pct(s, 90)), p99: r(pct(s, 99)), p999: r(pct(s, 99.9)),
        max: r(s.length ? s[s.length - 1] : 0), mean: r(mean) };
}

const sockets = [];

let phase = null; // the measured window's figures: {lat, ack, sent: text -> send time, acked}

function phaseLine(p, timedOut) {
    const [scen, ...rest] = o.label.split("|");
    const lost = [...p.sent.keys()].filter((t) => p.acked.has(t)).length;
    return {
        ...result,
        label: [`${scen}-r${p.rate}`, ...rest].join("|"),
        offered: p.rate,
        measure_s: o.measure,
        msgs: p.lat.length,
        rate: Math.round((p.lat.length / o.measure) * 10) / 10,
        lat_us: dist(p.lat.map((x) => x * 1000)),
        ack_us: dist(p.ack.map((x) => x * 1000)),
        missed: p.missed,
        unfinished: p.sent.size - lost,
        lost,
        errors: p.errors + lost,
        timeout: !!timedOut,
    };
}

const done = [];
function finish(timedOut) {
    if (finishing) return;
    finishing = true;
    clearTimeout(bound);
    if (o.mode === "chat") {
        if (phase) done.push(phaseLine(phase, timedOut));
        // rates never reached (setup failed or the bound hit) still get a line, empty
        for (const rate of rates.slice(done.length)) {
            done.push({ ...phaseLine({ rate, lat: [], ack: [], sent: new Map(), acked: new Set(), missed: 0, errors }, timedOut),
                measure_s: 0 });
        }
        for (const l of done) process.stdout.write(JSON.stringify(l) + "\n");
    }
    for (const s of sockets) s.close();
    agent.destroy();
    process.exit(timedOut && o.mode !== "chat" ? 1 : 0);
}

const rates = String(o.rate).split(",").map(Number).filter((x) => x > 0);

async function runPhase(pairs, rate) {
    const p = { rate, lat: [], ack: [], sent: new Map(), acked: new Set(), missed: 0, errors: 0 };
    phase = p;

    const start = now();
    const warmEnd = start + o.warmup * 1000;
    const end = warmEnd + o.measure * 1000;
    let offered = 0, rr = 0, inflight = 0;
    await new Promise((resolve) => {
        const tick = setInterval(() => {
            const t = now();
            if (t >= end) {
                clearInterval(tick);
                return resolve();
            }
            const due = Math.floor(((t - start) / 1000) * rate);
            for (; offered < due; offered++) {
                const k = rr++ % pairs.length;
                const pair = pairs[k];
                const inWindow = t >= warmEnd;
                if (pair.inflight >= MAX_IN_FLIGHT) {
                    if (inWindow) p.missed++;
                    continue;
                }
                const text = `m${k}-${pair.seq++}-r${rate}`;
                const ts = now();
                if (inWindow) p.sent.set(text, ts);
                pair.inflight++;
                inflight++;
                post({ query: SEND, variables: { room: pair.room, text } }, pair.a).then((r) => {
                    pair.inflight--;
                    inflight--;
                    if (r.status !== 200 || !r.json?.data?.sendMessage) {
                        errors++;
                        if (inWindow) p.errors++;
                        p.sent.delete(text);
                        return;
                    }
                    if (inWindow) {
                        p.ack.push(now() - ts);
                        p.acked.add(text);
                    }
                });
            }
        }, 2);
    });
    // let the backlog finish and the last deliveries arrive: an acknowledged message whose
    // event never arrives is lost; one still unanswered at the end is unfinished
    const drainEnd = now() + 5000;
    while ((inflight > 0 || [...p.sent.keys()].some((x) => p.acked.has(x))) && now() < drainEnd)
        await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    done.push(phaseLine(p, false));
    phase = null;
}

async function chat() {
    const t0 = now();
    const users = await registerAll(o.users);
    for (const u of users) sockets.push(await connect(u));
    result.ready = sockets.length;
    const pairs = await openRooms(users);
    result.connect_s = Math.round((now() - t0) / 10) / 100;
    pairs.forEach((pair, k) => {
        pair.inflight = 0;
        pair.seq = 0;
        // the receiver's socket: the other member of the pair
        sockets[2 * k + 1].on("chatroom", (ev) => {
            const text = ev?.message?.text;
            const t = phase?.sent.get(text);
            if (t === undefined) return;
            phase.sent.delete(text);
            phase.lat.push(now() - t);
        });
    });
    for (const rate of rates) await runPhase(pairs, rate);
    finish(false);
}

async function setupWrites() {
    const users = await registerAll(o.users);
    const pairs = await openRooms(users);
    const lines = pairs.map((p, k) => `Bearer ${p.a.id}:${p.a.secretkey}\t` +
        JSON.stringify({ query: SEND, variables: { room: p.room, text: `durable write from pair ${k}` } }));
    fs.writeFileSync(o.out, lines.join("\n") + "\n");
    finishing = true;
    process.exit(0);
}

async function setupUser() {
    const [u] = await registerAll(1);
    const q = `query { user(username: "${u.name}") { id username displayName } }`;
    fs.writeFileSync(o.out, `\t${JSON.stringify({ query: q })}\n`);
    finishing = true;
    process.exit(0);
}

const modes = { chat, "setup-writes": setupWrites, "setup-user": setupUser };
if (!modes[o.mode]) {
    console.error(`chat-load: unknown mode ${o.mode}`);
    process.exit(2);
}
modes[o.mode]().catch((e) => {
    console.error(`chat-load: ${e.message}`);
    errors++;
    if (o.mode === "chat") finish(false);
    else process.exit(1);
});
