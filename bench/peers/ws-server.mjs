// ws-server.mjs - plain `ws` 8 WebSocket echo: the Node.js peer for roost's /ws-echo.
// Every text or binary message is sent straight back; any path is accepted.
// Usage: node ws-server.mjs [--listen 127.0.0.1:3001]
import http from "node:http";
import { WebSocketServer } from "ws";

let listen = "127.0.0.1:3001";
for (let i = 2; i < process.argv.length; i += 2) {
    if (process.argv[i] === "--listen" && process.argv[i + 1]) listen = process.argv[i + 1];
    else throw new Error(`unknown flag ${process.argv[i]}`);
}
const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
if (!m) throw new Error(`--listen wants HOST:PORT, got ${listen}`);
const host = m[1] ?? m[2];
if (!(host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "localhost"))
    throw new Error(`refusing to listen on ${host}: loopback only`);

const server = http.createServer((req, res) => {
    res.writeHead(426, { "Content-Type": "text/plain" });
    res.end("WebSocket only\n");
});
const wss = new WebSocketServer({ server, maxPayload: 1e6, perMessageDeflate: false });
wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.listen({ host, port: Number(m[3]), backlog: 4096 }, () => {
    console.error(`ws-server: listening on ${listen}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
