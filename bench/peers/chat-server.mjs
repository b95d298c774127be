// chat-server.mjs - the Node.js reference implementation of roost's chat path, for the
// benchmark's durable chat scenario: graphql-server.mjs (register/login, getLocation,
// sendMessage on graphql-http + better-sqlite3, WAL, synchronous=FULL) plus socket.io 4.8 on
// /socket.io/ with roost's live-channel handshake and events:
//   client `initialConnection` {id, secretkey} -> `auth` true (joins room `user:<id>`), or
//   `auth` false {reason};  `chatroom` and `updatedChat` to every member after the commit.
//
// Usage: node chat-server.mjs --listen 127.0.0.1:4000 --db PATH [--ping-interval 25000]
//                             [--ping-timeout 20000]
import http from "node:http";
import { Server } from "socket.io";
import { parseArgs, createApp, httpHandler } from "./graphql-server.mjs";

const opts = parseArgs(process.argv);
const server = http.createServer();
const io = new Server(server, {
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    serveClient: false,
    transports: ["polling", "websocket"],
});
const app = createApp({ db: opts.db, io });
const handle = httpHandler(app);
// socket.io answers /socket.io/ itself (it listens first); everything else is ours
server.on("request", (req, res) => {
    if (!req.url.startsWith("/socket.io/")) handle(req, res);
});
server.keepAliveTimeout = 60000;

io.on("connection", (socket) => {
    socket.on("initialConnection", (p) => {
        const uid = p && typeof p === "object" ? app.verify(p.id, p.secretkey) : null;
        if (uid == null) return socket.emit("auth", false, { reason: "invalid credentials" });
        for (const room of socket.rooms) if (room.startsWith("user:")) socket.leave(room);
        socket.join(`user:${uid}`);
        socket.emit("auth", true);
    });
});

server.listen(opts.port, opts.host, () => console.log(`chat-server listening on ${opts.listen}`));
const stop = () => {
    app.db.close();
    process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
