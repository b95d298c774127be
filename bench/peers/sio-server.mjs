// sio-server.mjs - the Node.js Socket.IO 4.8 peer, in roost's conformance mode.
//
// Does what PROTOCOL.md's "Conformance mode" section asks of `roost --conformance`, so that
// the benchmark (and anyone checking roost against the reference) compares equal work:
//   /socket.io/  namespaces "/" and "/custom"; on connect emit `auth` with the handshake auth;
//                `message` -> `message-back` (same args), `message-with-ack` -> ack (same args),
//                `broadcast` -> `broadcast-back` (same args) to every client of the namespace;
//                any other namespace is refused by socket.io ("Invalid namespace").
//   /engine.io/  raw Engine.IO echo (every message packet sent back unchanged).
//   /ws-echo     plain WebSocket echo (text and binary).
//
// Usage: node sio-server.mjs [--listen 127.0.0.1:3000] [--ping-interval 300]
//                            [--ping-timeout 200] [--max-payload 1000000]
//                            [--tls-cert FILE --tls-key FILE] [--adapter redis://127.0.0.1:PORT]
// The conformance timings (300/200 ms) are the defaults; benchmarks pass the production
// timings (25000/20000) so that heartbeats do not dominate an idle connection's cost.
// --tls-cert/--tls-key: HTTPS and WSS on the listen port (node:https with Node's defaults),
// like roost's flags of the same names. --adapter: join a cluster through Redis with the
// official @socket.io/redis-adapter 8 (node-redis 4 clients), like roost's --adapter.
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { Server } from "socket.io";
import { Server as EngineServer } from "engine.io";
import { WebSocketServer } from "ws";

function parseArgs(argv) {
    const opts = { listen: "127.0.0.1:3000", pingInterval: 300, pingTimeout: 200, maxPayload: 1e6,
        tlsCert: null, tlsKey: null, adapter: null };
    for (let i = 2; i < argv.length; i++) {
        const flag = argv[i];
        const value = argv[i + 1];
        if (value === undefined) throw new Error(`missing value for ${flag}`);
        i++;
        if (flag === "--listen") opts.listen = value;
        else if (flag === "--ping-interval") opts.pingInterval = Number(value);
        else if (flag === "--ping-timeout") opts.pingTimeout = Number(value);
        else if (flag === "--max-payload") opts.maxPayload = Number(value);
        else if (flag === "--tls-cert") opts.tlsCert = value;
        else if (flag === "--tls-key") opts.tlsKey = value;
        else if (flag === "--adapter") opts.adapter = value;
        else throw new Error(`unknown flag ${flag}`);
    }
    if (!opts.tlsCert !== !opts.tlsKey) throw new Error("--tls-cert and --tls-key go together");
    if (opts.adapter) {
        const m = /^redis:\/\/([^:/]+):(\d+)\/?$/.exec(opts.adapter);
        if (!m || !/^127\.\d+\.\d+\.\d+$/.test(m[1])) throw new Error("--adapter wants redis://127.x.x.x:PORT");
    }
    return opts;
}

// Benchmarks and conformance runs must never listen beyond this machine.
function loopbackOnly(listen) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
    if (!m) throw new Error(`--listen wants HOST:PORT, got ${listen}`);
    const host = m[1] ?? m[2];
    if (!(host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "localhost"))
        throw new Error(`refusing to listen on ${host}: loopback only`);
    return { host, port: Number(m[3]) };
}

const opts = parseArgs(process.argv);
const { host, port } = loopbackOnly(opts.listen);
const handler = (req, res) => {
    // roost serves GET /healthz in every mode; the peer answers it the same way
    if (req.url === "/healthz") {
        res.writeHead(200, { "Content-Type": "application/json" });
        return res.end('{"status":"ok"}');
    }
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
};
const httpServer = opts.tlsCert
    ? https.createServer({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) }, handler)
    : http.createServer(handler);

const timings = {
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    maxHttpBufferSize: opts.maxPayload,
};

const io = new Server(httpServer, { ...timings, serveClient: false, destroyUpgrade: false });
if (opts.adapter) {
    // imported only here: the plain peer must not need the cluster packages
    const { createClient } = await import("redis");
    const { createAdapter } = await import("@socket.io/redis-adapter");
    const pub = createClient({ url: opts.adapter });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) c.on("error", (err) => console.error(`sio-server: redis: ${err.message}`));
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
}
for (const name of ["/", "/custom"]) {
    io.of(name).on("connection", (socket) => {
        socket.emit("auth", socket.handshake.auth ?? {});
        socket.on("message", (...args) => {
            if (typeof args[args.length - 1] === "function") args.pop();
            socket.emit("message-back", ...args);
        });
        socket.on("message-with-ack", (...args) => {
            const ack = args.pop();
            if (typeof ack === "function") ack(...args);
        });
        socket.on("broadcast", (...args) => {
            if (typeof args[args.length - 1] === "function") args.pop();
            socket.nsp.emit("broadcast-back", ...args);
        });
    });
}

const eio = new EngineServer({ ...timings, destroyUpgrade: false });
eio.attach(httpServer, { path: "/engine.io/", destroyUpgrade: false });
eio.on("connection", (socket) => {
    socket.on("message", (data) => socket.send(data));
});

const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload });
httpServer.on("upgrade", (req, socket, head) => {
    if (!req.url.startsWith("/ws-echo")) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
});

httpServer.listen({ host, port, backlog: 4096 }, () => {
    console.error(`sio-server: listening on ${opts.tlsCert ? "https" : "http"}://${opts.listen} ` +
        `(ping ${opts.pingInterval}/${opts.pingTimeout} ms${opts.adapter ? `, adapter ${opts.adapter}` : ""})`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
