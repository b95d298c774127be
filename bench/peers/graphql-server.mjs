// graphql-server.mjs - the Node.js reference of roost's platform API, for the benchmark: the
// subset of docs/schema.graphql that the chat and GraphQL scenarios use, on graphql-http +
// graphql-js + better-sqlite3 (WAL, synchronous=FULL: an answered write is on disk, as in
// roost). Run alone it serves /graphql (and /healthz); chat-server.mjs adds Socket.IO and the
// live channels on top of the same code.
//
//   Query     me, user(id | username) { id username displayName }
//   Mutation  register, login      -> { id secretkey user }  (scrypt password hash; the session
//                                      secret is stored as its SHA-256)
//             getLocation(userId)  -> the one-to-one Chatroom, created on first use; emits
//                                      `updatedChat` to both members when created
//             sendMessage(chatroomId, text) -> Message, after its transaction committed; emits
//                                      `chatroom` and `updatedChat` to every member
// Requests authenticate with `Authorization: Bearer <id>:<secretkey>` or the id/secretkey
// cookies; live events go to the Socket.IO room `user:<id>` of each member.
//
// Usage: node graphql-server.mjs --listen 127.0.0.1:4000 --db PATH
import http from "node:http";
import crypto from "node:crypto";
import { promisify } from "node:util";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { buildSchema, GraphQLError } from "graphql";
import { createHandler } from "graphql-http/lib/use/http";

const scrypt = promisify(crypto.scrypt);

const SDL = `
type Query { me: User  user(id: ID, username: String): User }
type Mutation {
  register(username: String!, displayName: String!, password: String!): AuthPayload!
  login(username: String!, password: String!): AuthPayload!
  getLocation(userId: ID!): Chatroom!
  sendMessage(chatroomId: ID!, text: String!): Message!
}
type AuthPayload { id: ID! secretkey: String! user: User! }
type User { id: ID! username: String! displayName: String! }
enum ChatroomKind { DIRECT GROUP }
type Chatroom { id: ID! kind: ChatroomKind! name: String members: [User!]! lastMessage: Message
  unreadCount: Int! createdAt: String! }
type Message { id: ID! chatroom: Chatroom! sender: User! text: String! createdAt: String! }
`;

export function parseArgs(argv, extra = {}) {
    const opts = { listen: "127.0.0.1:4000", db: "bench-peer.db", pingInterval: 25000, pingTimeout: 20000, ...extra };
    for (let i = 2; i < argv.length; i += 2) {
        const [flag, value] = [argv[i], argv[i + 1]];
        if (value === undefined) throw new Error(`missing value for ${flag}`);
        if (flag === "--listen") opts.listen = value;
        else if (flag === "--db") opts.db = value;
        else if (flag === "--ping-interval") opts.pingInterval = Number(value);
        else if (flag === "--ping-timeout") opts.pingTimeout = Number(value);
        else throw new Error(`unknown flag ${flag}`);
    }
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(opts.listen);
    if (!m) throw new Error(`--listen wants HOST:PORT, got ${opts.listen}`);
    opts.host = m[1] ?? m[2];
    opts.port = Number(m[3]);
    // benchmarks never listen beyond this machine
    if (!(opts.host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(opts.host)))
        throw new Error(`refusing to listen on ${opts.host}: loopback only`);
    return opts;
}

function openDb(file) {
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    db.exec(`
    CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,
      display_name TEXT NOT NULL, pwhash TEXT NOT NULL, created TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
      secret_hash BLOB NOT NULL, created TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS chatrooms (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT,
      direct_key TEXT UNIQUE, created TEXT NOT NULL, last_activity TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS members (chatroom_id INTEGER NOT NULL REFERENCES chatrooms(id),
      user_id INTEGER NOT NULL REFERENCES users(id), last_read INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (chatroom_id, user_id));
    CREATE INDEX IF NOT EXISTS members_user ON members(user_id);
    CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, chatroom_id INTEGER NOT NULL REFERENCES chatrooms(id),
      sender_id INTEGER NOT NULL REFERENCES users(id), text TEXT NOT NULL, created TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS messages_room ON messages(chatroom_id, id DESC);`);
    return db;
}

/** The GraphQL handler over one database; `io` (a socket.io Server, or null) gets the events. */
export function createApp({ db: file, io = null }) {
    const db = openDb(file);
    const q = {
        userById: db.prepare("SELECT id, username, display_name FROM users WHERE id = ?"),
        userByName: db.prepare("SELECT id, username, display_name, pwhash FROM users WHERE username = ?"),
        addUser: db.prepare("INSERT INTO users (username, display_name, pwhash, created) VALUES (?, ?, ?, ?)"),
        addSession: db.prepare("INSERT INTO sessions (user_id, secret_hash, created) VALUES (?, ?, ?)"),
        session: db.prepare("SELECT user_id, secret_hash FROM sessions WHERE id = ?"),
        roomByKey: db.prepare("SELECT * FROM chatrooms WHERE direct_key = ?"),
        room: db.prepare("SELECT * FROM chatrooms WHERE id = ?"),
        addRoom: db.prepare("INSERT INTO chatrooms (kind, direct_key, created, last_activity) VALUES ('DIRECT', ?, ?, ?)"),
        addMember: db.prepare("INSERT INTO members (chatroom_id, user_id) VALUES (?, ?)"),
        isMember: db.prepare("SELECT 1 FROM members WHERE chatroom_id = ? AND user_id = ?"),
        members: db.prepare(
            "SELECT u.id, u.username, u.display_name, m.last_read FROM members m JOIN users u ON u.id = m.user_id WHERE m.chatroom_id = ? ORDER BY u.id"),
        addMessage: db.prepare("INSERT INTO messages (chatroom_id, sender_id, text, created) VALUES (?, ?, ?, ?)"),
        touchRoom: db.prepare("UPDATE chatrooms SET last_activity = ? WHERE id = ?"),
        lastMessage: db.prepare("SELECT * FROM messages WHERE chatroom_id = ? ORDER BY id DESC LIMIT 1"),
        unread: db.prepare("SELECT count(*) AS n FROM messages WHERE chatroom_id = ? AND id > ? AND sender_id <> ?"),
    };
    const userOut = (u) => u && { id: String(u.id), username: u.username, displayName: u.display_name };
    const fail = (msg) => {
        throw new GraphQLError(msg);
    };
    const sha = (s) => crypto.createHash("sha256").update(s).digest();

    function viewer(headers) {
        let id, secret;
        const auth = headers.authorization;
        const m = auth && /^Bearer ([0-9]+):([0-9a-f]+)$/.exec(auth);
        if (m) [id, secret] = [m[1], m[2]];
        else if (headers.cookie) {
            const c = Object.fromEntries(headers.cookie.split(/;\s*/).map((kv) => kv.split("=")));
            [id, secret] = [c.id, c.secretkey];
        }
        return verify(id, secret);
    }
    function verify(id, secret) {
        if (typeof id !== "string" || typeof secret !== "string" || !/^[0-9]{1,15}$/.test(id)) return null;
        const s = q.session.get(Number(id));
        if (!s) return null;
        const h = sha(secret);
        return h.length === s.secret_hash.length && crypto.timingSafeEqual(h, s.secret_hash) ? s.user_id : null;
    }
    function need(ctx) {
        if (!ctx.viewer) fail("authentication required");
        return ctx.viewer;
    }
    function newSession(userId) {
        const secret = crypto.randomBytes(32).toString("hex");
        const info = q.addSession.run(userId, sha(secret), new Date().toISOString());
        return { id: String(info.lastInsertRowid), secretkey: secret, user: userOut(q.userById.get(userId)) };
    }
    function messageOut(m, room) {
        return {
            id: String(m.id), text: m.text, createdAt: m.created, sender: userOut(q.userById.get(m.sender_id)),
            chatroomId: String(m.chatroom_id), chatroom: () => room(),
        };
    }
    // the chatroom as `viewer` sees it (unreadCount is theirs)
    function roomOut(r, viewerId, members = q.members.all(r.id)) {
        const last = q.lastMessage.get(r.id);
        const me = members.find((x) => x.id === viewerId);
        return {
            id: String(r.id), kind: r.kind, name: r.name, createdAt: r.created,
            members: members.map(userOut),
            lastMessage: last ? messageOut(last, () => roomOut(r, viewerId)) : null,
            unreadCount: me ? q.unread.get(r.id, me.last_read, viewerId).n : 0,
        };
    }
    // the live payloads of docs/schema.graphql, per member
    function summary(r, memberId, members) {
        const o = roomOut(r, memberId, members);
        const lm = o.lastMessage && { id: o.lastMessage.id, chatroomId: o.id, sender: o.lastMessage.sender,
            text: o.lastMessage.text, createdAt: o.lastMessage.createdAt };
        return { chatroom: { id: o.id, kind: o.kind, name: o.name, members: o.members, lastMessage: lm,
            unreadCount: o.unreadCount } };
    }
    function emitUpdated(r, members) {
        if (!io) return;
        for (const mb of members) io.to(`user:${mb.id}`).emit("updatedChat", summary(r, mb.id, members));
    }

    const createRoom = db.transaction((a, b, key, now) => {
        const info = q.addRoom.run(key, now, now);
        q.addMember.run(info.lastInsertRowid, a);
        q.addMember.run(info.lastInsertRowid, b);
        return q.room.get(info.lastInsertRowid);
    });
    const storeMessage = db.transaction((roomId, sender, text, now) => {
        const info = q.addMessage.run(roomId, sender, text, now);
        q.touchRoom.run(now, roomId);
        return info.lastInsertRowid;
    });

    const root = {
        me: (_, ctx) => (ctx.viewer ? userOut(q.userById.get(ctx.viewer)) : null),
        user: ({ id, username }) => {
            if ((id == null) === (username == null)) fail("give exactly one of id and username");
            return userOut(id != null ? (/^[0-9]{1,15}$/.test(id) ? q.userById.get(Number(id)) : null) : q.userByName.get(username));
        },
        register: async ({ username, displayName, password }) => {
            if (!/^[A-Za-z0-9_]{3,32}$/.test(username)) fail("username: 3-32 letters, digits or _");
            if (password.length < 8) fail("password: at least 8 characters");
            if (q.userByName.get(username)) fail("username taken");
            const salt = crypto.randomBytes(16);
            const hash = await scrypt(password, salt, 32);
            const pw = `${salt.toString("hex")}:${hash.toString("hex")}`;
            let info;
            try {
                info = q.addUser.run(username, displayName, pw, new Date().toISOString());
            } catch (e) {
                if (String(e.code).startsWith("SQLITE_CONSTRAINT")) fail("username taken");
                throw e;
            }
            return newSession(info.lastInsertRowid);
        },
        login: async ({ username, password }) => {
            const u = q.userByName.get(username);
            if (!u) fail("wrong username or password");
            const [salt, hash] = u.pwhash.split(":");
            const got = await scrypt(password, Buffer.from(salt, "hex"), 32);
            if (!crypto.timingSafeEqual(got, Buffer.from(hash, "hex"))) fail("wrong username or password");
            return newSession(u.id);
        },
        getLocation: ({ userId }, ctx) => {
            const me = need(ctx);
            const other = /^[0-9]{1,15}$/.test(userId) ? q.userById.get(Number(userId)) : null;
            if (!other) fail("unknown user");
            if (other.id === me) fail("no chatroom with yourself");
            const key = me < other.id ? `${me}:${other.id}` : `${other.id}:${me}`;
            let r = q.roomByKey.get(key);
            if (!r) {
                try {
                    r = createRoom(me, other.id, key, new Date().toISOString());
                    emitUpdated(r, q.members.all(r.id));
                } catch (e) {
                    if (!String(e.code).startsWith("SQLITE_CONSTRAINT")) throw e;
                    r = q.roomByKey.get(key);
                }
            }
            return roomOut(r, me);
        },
        sendMessage: ({ chatroomId, text }, ctx) => {
            const me = need(ctx);
            const r = /^[0-9]{1,15}$/.test(chatroomId) ? q.room.get(Number(chatroomId)) : null;
            if (!r || !q.isMember.get(r.id, me)) fail("no such chatroom");
            const t = text.trim();
            if (!t) fail("empty message");
            if ([...t].length > 4000) fail("message too long (4,000 characters at most)");
            const now = new Date().toISOString();
            const id = storeMessage(r.id, me, t, now); // committed (and fsynced) here
            const m = { id, chatroom_id: r.id, sender_id: me, text: t, created: now };
            const out = messageOut(m, () => roomOut(r, me));
            if (io) {
                const members = q.members.all(r.id);
                const live = { chatroomId: String(r.id), message: { id: out.id, chatroomId: String(r.id),
                    sender: out.sender, text: t, createdAt: now } };
                for (const mb of members) io.to(`user:${mb.id}`).emit("chatroom", live);
                emitUpdated(r, members);
            }
            return out;
        },
    };

    const handler = createHandler({
        schema: buildSchema(SDL),
        rootValue: root,
        context: (req) => ({ viewer: viewer(req.raw.headers) }),
    });
    return { handler, verify, db };
}

/** The HTTP request handler: /graphql, /healthz, 404 otherwise. */
export function httpHandler(app) {
    return (req, res) => {
        const path = req.url.split("?")[0];
        if (path === "/graphql") return app.handler(req, res);
        if (path === "/healthz") {
            res.writeHead(200, { "Content-Type": "application/json" });
            return res.end('{"status":"ok"}');
        }
        res.writeHead(404, { "Content-Type": "text/plain" });
        res.end("not found\n");
    };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
    const opts = parseArgs(process.argv);
    const app = createApp({ db: opts.db });
    const server = http.createServer(httpHandler(app));
    server.keepAliveTimeout = 60000;
    server.listen(opts.port, opts.host, () => console.log(`graphql-server listening on ${opts.listen}`));
    const stop = () => {
        app.db.close();
        process.exit(0);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}
