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
// The conformance timings (300/200 ms) are the defaults; benchmarks pass the production
// timings (25000/20000) so that heartbeats do not dominate an idle connection's cost.
import http from "node:http";
import { Server } from "socket.io";
import { Server as EngineServer } from "engine.io";
import { WebSocketServer } from "ws";

function parseArgs(argv) {
    const opts = { listen: "127.0.0.1:3000", pingInterval: 300, pingTimeout: 200, maxPayload: 1e6 };
    for (let i = 2; i < argv.length; i++) {
        const flag = argv[i];
        const value = argv[i + 1];
        if (value === undefined) throw new Error(`missing value for ${flag}`);
        i++;
        if (flag === "--listen") opts.listen = value;
        else if (flag === "--ping-interval") opts.pingInterval = Number(value);
        else if (flag === "--ping-timeout") opts.pingTimeout = Number(value);
        else if (flag === "--max-payload") opts.maxPayload = Number(value);
        else throw new Error(`unknown flag ${flag}`);
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
const httpServer = http.createServer((req, res) => {
    // roost serves GET /healthz in every mode; the peer answers it the same way
    if (req.url === "/healthz") {
        res.writeHead(200, { "Content-Type": "application/json" });
        return res.end('{"status":"ok"}');
    }
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
});

const timings = {
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    maxHttpBufferSize: opts.maxPayload,
};

const io = new Server(httpServer, { ...timings, serveClient: false, destroyUpgrade: false });
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
    console.error(`sio-server: listening on ${opts.listen} (ping ${opts.pingInterval}/${opts.pingTimeout} ms)`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
