// report.mjs - turns the benchmark's raw runs (one loadgen JSON line each) into medians,
// tables, target checks, JSON and gnuplot SVGs. Called by bench/run.sh; rerunnable by hand:
//   node bench/report.mjs build/bench/runs-<stamp>.jsonl
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execSync, spawnSync } from "node:child_process";

const env = process.env;
const rawFile = process.argv[2];
const results = "bench/results";
const plotDir = "build/bench/plot";
const quick = env.BENCH_QUICK === "1";
// Only a full run publishes (README tables, latest.json, *.svg); smoke and partial runs
// (QUICK=1, ONLY=..., README_UPDATE=0) write quick.json, quick.md and quick-*.svg instead.
const publish = !quick && env.BENCH_README_UPDATE === "1";
const stamp = env.BENCH_STAMP ?? new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);

const TARGETS = ["roost", "node", "floor"];
const TARGET_TITLE = { roost: "roost", node: "Node.js", floor: "epoll floor" };
const TARGET_COLOR = { roost: "#1b9e77", node: "#d95f02", floor: "#7570b3" };
// the durable-writes scenarios compare roost with itself: group commit, one transaction per write
const COMMIT_TARGETS = ["group", "1tx"];
const COMMIT_TITLE = { group: "group commit", "1tx": "one transaction per write" };
const COMMIT_COLOR = { group: "#1b9e77", "1tx": "#e7298a" };
// the cluster scenarios: roost on one node and on two (Redis adapter), two Node.js nodes
const CLUSTER_TARGETS = ["one", "two", "node1", "node"];
const CLUSTER_TITLE = { one: "roost, 1 node", two: "roost, 2 nodes", node1: "Node.js socket.io, 1 node",
    node: "Node.js socket.io, 2 nodes" };
const CLUSTER_COLOR = { one: "#66a61e", two: "#1b9e77", node1: "#e6ab02", node: "#d95f02" };
const TLS_PEER = "Node.js socket.io on node:https";
// the Node.js peer's column title, where it is not the socket.io conformance peer
const PEER_TITLE = {
    "ws-echo-c100-s20": "Node.js ws",
    "chat-r50": "Node.js socket.io + graphql-http + better-sqlite3",
    "chat-r200": "Node.js socket.io + graphql-http + better-sqlite3",
    "chat-r500": "Node.js socket.io + graphql-http + better-sqlite3",
    "gql-user": "Node.js graphql-http",
    "storm-wss": TLS_PEER,
    "echo-tls-c100-s20": TLS_PEER,
    "idle-tls-2000": TLS_PEER,
    "idle-tls-10000": TLS_PEER,
};

// What each scenario measures, and which figures its table shows.
const SCENARIOS = {
    "echo-c100-s20": ["Socket.IO echo: 100 connections, 20 B events, 1 in flight", "echo"],
    "echo-c100-s1k": ["Socket.IO echo: 100 connections, 1 KiB events, 1 in flight", "echo"],
    "echo-c1000-s20": ["Socket.IO echo: 1,000 connections, 20 B events, 1 in flight", "echo"],
    "echo-c1000-s1k": ["Socket.IO echo: 1,000 connections, 1 KiB events, 1 in flight", "echo"],
    "echo-c100-s20-d16": ["Socket.IO echo, pipelined: 100 connections, 20 B, 16 in flight", "echo"],
    "ws-echo-c100-s20": ["WebSocket echo (roost /ws-echo vs ws 8): 100 connections, 20 B", "echo"],
    "poll-echo-c100-s20": ["Socket.IO echo over long-polling: 100 sessions, 20 B", "echo"],
    "idle-2000": ["Idle Socket.IO connections: 2,000", "idle"],
    "idle-10000": ["Idle Socket.IO connections: 10,000", "idle"],
    "idle-19000": ["Idle Socket.IO connections: 19,000", "idle"],
    "fanout-1000": ["Room fan-out: 1,000 members, 20 B event", "fanout"],
    "fanout-10000": ["Room fan-out: 10,000 members, 20 B event", "fanout"],
    "cluster-fanout-1000": ["Broadcast fan-out across nodes (Redis adapter): 1,000 members, 20 B event, " +
        "members alternating over the nodes, the emitter on the first", "cluster"],
    "cluster-fanout-10000": ["Broadcast fan-out across nodes (Redis adapter): 10,000 members, 20 B event, " +
        "members alternating over the nodes, the emitter on the first", "cluster"],
    "storm-ws": ["Connection storm: Socket.IO over WebSocket, 64 handshakes in flight", "storm"],
    "storm-poll": ["Connection storm: Socket.IO over long-polling, 64 handshakes in flight", "storm"],
    "storm-wss": ["Connection storm over TLS: Socket.IO over WSS, 64 handshakes in flight, each a full " +
        "TLS 1.3 handshake (no resumption)", "storm"],
    "echo-tls-c100-s20": ["Socket.IO echo over WSS (TLS 1.3): 100 connections, 20 B events, 1 in flight",
        "echo_tls"],
    "idle-tls-2000": ["Idle Socket.IO connections over WSS (TLS 1.3): 2,000", "idle"],
    "idle-tls-10000": ["Idle Socket.IO connections over WSS (TLS 1.3): 10,000", "idle"],
    "chat-r50": ["Durable chat end to end at 50 messages/s offered: 25 pairs (QUICK: 5), sendMessage " +
        "over HTTP keep-alive → `chatroom` on the other member's socket", "chat"],
    "chat-r200": ["Durable chat end to end at 200 messages/s offered (QUICK: 5 pairs)", "chat"],
    "chat-r500": ["Durable chat end to end at 500 messages/s offered: 25 pairs", "chat"],
    "gql-user": ["GraphQL query rate: `query { user(username:) { id username displayName } }`, " +
        "64 connections (wrk, one thread)", "http"],
    "healthz": ["GET /healthz, 64 keep-alive connections (wrk, one thread)", "http"],
    "eio-open": ["Engine.IO polling handshakes: `GET /socket.io/?EIO=4&transport=polling`, " +
        "64 connections (wrk, one thread)", "http"],
    "writes-sqlite": ["Durable writes, SQLite (WAL, synchronous=FULL): concurrent sendMessage, " +
        "64 connections (wrk), 16 rooms (QUICK: 4); latency = request until the committed answer", "commit"],
    "writes-pg": ["Durable writes, PostgreSQL (throwaway local server): concurrent sendMessage, " +
        "64 connections (wrk), 16 rooms (QUICK: 4); latency = request until the committed answer", "commit"],
};

// [name, unit, getter, better]: better is "high" or "low". A getter returns undefined when the
// run has no such figure (nothing connected, no round completed), so that a failed run never
// reads as a good one.
const some = (r, x) => (r.msgs > 0 ? x : undefined);
const METRICS = {
    echo: [
        ["messages/s", "", (r) => r.rate, "high"],
        ["latency p50", "ms", (r) => some(r, r.lat_us.p50 / 1000), "low"],
        ["latency p99", "ms", (r) => some(r, r.lat_us.p99 / 1000), "low"],
        ["latency p99.9", "ms", (r) => some(r, r.lat_us.p999 / 1000), "low"],
        // The split shows where a server's time goes: the kernel part is the floor's whole cost.
        ["server CPU per message, user space", "µs", (r) => some(r, r.server_user_us_per_msg), "low"],
        ["server CPU per message, kernel", "µs",
            (r) => (r.server_user_us_per_msg === undefined ? undefined
                : some(r, r.server_cpu_us_per_msg - r.server_user_us_per_msg)), "low"],
    ],
    idle: [
        ["KiB per connection", "", (r) => (r.ready > 0 ? r.kib_per_conn : undefined), "low"],
        ["server RSS", "MiB", (r) => r.rss_after_kib / 1024, "low"],
        ["connect time", "s", (r) => (r.ready > 0 ? r.connect_s : undefined), "low"],
    ],
    fanout: [
        ["to last member p50", "ms", (r) => (r.rounds > 0 ? r.last_us.p50 / 1000 : undefined), "low"],
        ["to last member p99", "ms", (r) => (r.rounds > 0 ? r.last_us.p99 / 1000 : undefined), "low"],
        ["per member p50", "µs", (r) => (r.rounds > 0 ? r.per_member_us : undefined), "low"],
    ],
    chat: [
        ["delivered messages/s", "", (r) => (r.measure_s > 0 ? r.rate : undefined), "high"],
        ["send → chatroom p50", "ms", (r) => some(r, r.lat_us.p50 / 1000), "low"],
        ["send → chatroom p99", "ms", (r) => some(r, r.lat_us.p99 / 1000), "low"],
        ["sendMessage answered p50", "ms", (r) => some(r, r.ack_us.p50 / 1000), "low"],
        ["offered but not sent (16 in flight per sender)", "", (r) => (r.measure_s > 0 ? r.missed : undefined), "low"],
    ],
    http: [
        ["requests/s", "", (r) => r.rate, "high"],
        ["latency p50", "ms", (r) => some(r, r.lat_us.p50 / 1000), "low"],
        ["latency p99", "ms", (r) => some(r, r.lat_us.p99 / 1000), "low"],
    ],
    commit: [
        ["writes/s", "", (r) => r.rate, "high"],
        ["commit latency p50", "ms", (r) => some(r, r.lat_us.p50 / 1000), "low"],
        ["commit latency p99", "ms", (r) => some(r, r.lat_us.p99 / 1000), "low"],
    ],
    storm: [
        ["handshakes/s", "", (r) => r.rate, "high"],
        ["handshake p50", "ms", (r) => some(r, r.lat_us.p50 / 1000), "low"],
        ["handshake p99", "ms", (r) => some(r, r.lat_us.p99 / 1000), "low"],
        ["server CPU per handshake", "µs", (r) => some(r, r.server_cpu_us_per_msg), "low"],
    ],
    cluster: [
        ["delivered messages/s", "", (r) => (r.rounds > 0 ? r.deliveries_per_s : undefined), "high"],
        ["to last member p50", "ms", (r) => (r.rounds > 0 ? r.last_us.p50 / 1000 : undefined), "low"],
        ["to last member p99", "ms", (r) => (r.rounds > 0 ? r.last_us.p99 / 1000 : undefined), "low"],
    ],
};
METRICS.echo_tls = [...METRICS.echo,
    ["server CPU per message", "µs", (r) => some(r, r.server_cpu_us_per_msg), "low"]];

function sh(cmd) {
    try {
        return execSync(cmd, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
        return "";
    }
}

function machine() {
    const cpu = (sh("grep -m1 'model name' /proc/cpuinfo").split(":")[1] ?? os.cpus()[0]?.model ?? "?").trim();
    return {
        cpu,
        cores: os.cpus().length,
        memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
        kernel: os.release(),
        os: fs.existsSync("/etc/debian_version")
            ? "Debian " + fs.readFileSync("/etc/debian_version", "utf8").trim()
            : os.type(),
        hypervisor: sh("lscpu | sed -n 's/^Hypervisor vendor: *//p'") || "none",
        node: process.version,
        cc: sh("cc --version | head -n1"),
        socket_io: pkgVersion("socket.io"),
        ws: pkgVersion("ws"),
        roost_commit: sh("git rev-parse --short HEAD"),
        nofile: sh("bash -c 'ulimit -Hn'"),
        loadavg_at_start: env.BENCH_LOADAVG ?? sh("cut -d' ' -f1-3 /proc/loadavg"),
        server_cpu: env.BENCH_SERVER_CPU ?? "0",
        loadgen_cpu: env.BENCH_LOADGEN_CPU ?? "1",
    };
}

function pkgVersion(name) {
    try {
        return JSON.parse(fs.readFileSync(`bench/peers/node_modules/${name}/package.json`, "utf8")).version;
    } catch {
        return "?";
    }
}

function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    const n = s.length;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// ---- aggregate ----------------------------------------------------------------------------
const runs = fs
    .readFileSync(rawFile, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
        const r = JSON.parse(l);
        const [scenario, target, round] = r.label.split("|");
        return { ...r, addr: r.target, scenario, target, round: Number(round) };
    });

const summary = {};
for (const r of runs) {
    const kind = SCENARIOS[r.scenario]?.[1];
    if (!kind) continue;
    summary[r.scenario] ??= {};
    const t = (summary[r.scenario][r.target] ??= { runs: 0, failed: 0, errors: 0, timeouts: 0, metrics: {} });
    t.runs++;
    if (r.error) {
        t.failed++;
        continue;
    }
    t.errors += r.errors ?? 0;
    if (r.timeout) t.timeouts++;
    for (const [name, , get] of METRICS[kind]) {
        const v = get(r);
        if (typeof v === "number" && Number.isFinite(v)) (t.metrics[name] ??= []).push(v);
    }
}
for (const scen of Object.values(summary))
    for (const t of Object.values(scen))
        for (const [name, xs] of Object.entries(t.metrics))
            t.metrics[name] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };

const get = (scen, target, metric) => summary[scen]?.[target]?.metrics?.[metric]?.median;

// ---- targets from issue 12 ----------------------------------------------------------------
const fmtx = (x) => (x === undefined ? "?" : x >= 10 ? x.toFixed(0) : x.toFixed(2));
const pct = (x) => `${(100 * x).toFixed(0)}%`;
// roost's figure r against a reference ref (the peer's or the floor's); holds(r, ref) decides,
// say(r, ref) words the figure
function check(desc, r, ref, refName, holds, say) {
    let status = "not measured";
    let detail = "roost not measured";
    if (r !== undefined && ref === undefined) detail = `${refName} not measured`;
    if (r !== undefined && ref !== undefined) {
        status = holds(r, ref) ? "holds" : "does not hold";
        detail = say(r, ref);
    }
    return { target: desc, status, detail };
}
const ratioOf = (a, b) => (b > 0 ? a / b : Infinity);
const targets = [];
{
    const s = "echo-c100-s20-d16";
    const r = get(s, "roost", "messages/s");
    targets.push(check("Echo, 100 connections, 16 in flight: ≥ 40× Node.js", r, get(s, "node", "messages/s"),
        "Node.js", (a, b) => a >= 40 * b, (a, b) => `${fmtx(ratioOf(a, b))}× Node.js`));
    targets.push(check("Echo, 100 connections, 16 in flight: ≥ 90% of the floor", r, get(s, "floor", "messages/s"),
        "the floor", (a, b) => a >= 0.9 * b, (a, b) => `${pct(ratioOf(a, b))} of the floor`));
}
{
    const s = "echo-c100-s20";
    targets.push(check("Echo, 1 in flight: within 10% of the floor", get(s, "roost", "messages/s"),
        get(s, "floor", "messages/s"), "the floor", (a, b) => a >= 0.9 * b,
        (a, b) => `${pct(ratioOf(a, b))} of the floor`));
}
{
    const s = summary["idle-19000"] ? "idle-19000" : summary["idle-10000"] ? "idle-10000" : "idle-2000";
    const r = get(s, "roost", "KiB per connection");
    targets.push(check(`Idle connection (${s}): ≤ 1 KiB`, r, r, "roost", (a) => a <= 1,
        (a) => `${a.toFixed(2)} KiB`));
    targets.push(check(`Idle connection (${s}): ≥ 14× lighter than Node.js`, r,
        get(s, "node", "KiB per connection"), "Node.js", (a, b) => b >= 14 * a,
        (a, b) => `${fmtx(ratioOf(b, a))}× lighter`));
}
{
    const s = summary["fanout-10000"] ? "fanout-10000" : "fanout-1000";
    targets.push(check(`Fan-out (${s}): median to last member ≤ 1.2× the floor`,
        get(s, "roost", "to last member p50"), get(s, "floor", "to last member p50"), "the floor",
        (a, b) => a <= 1.2 * b, (a, b) => `${fmtx(ratioOf(a, b))}× the floor`));
}

// ---- markdown -----------------------------------------------------------------------------
function num(v, unit) {
    if (v === undefined) return "–";
    const d = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
    return v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}
function cell(t, name, unit) {
    const m = t?.metrics?.[name];
    if (!m) return t?.failed ? "failed" : "–";
    if (m.n === 1) return num(m.median, unit);
    return `${num(m.median, unit)} <sub>${num(m.min, unit)}–${num(m.max, unit)}</sub>`;
}
function ratio(a, b, better) {
    if (a === undefined || b === undefined || a === 0 || b === 0) return "–";
    const x = better === "high" ? a / b : b / a;
    return `${fmtx(x)}×`;
}

const m = machine();
const lines = [];
lines.push(`Run ${stamp}${quick ? " (QUICK smoke run: 1 round, short windows; not for comparison)" : ""}: ` +
    `${env.BENCH_ROUNDS ?? "?"} rounds, interleaved, medians with min–max in small print; ` +
    `total ${env.BENCH_ELAPSED ?? "?"} s.`);
lines.push("");
lines.push(`Machine: ${m.cpu}, ${m.cores} cores (hypervisor: ${m.hypervisor}), ${m.memory_gib} GiB, ` +
    `${m.os}, Linux ${m.kernel}; ${m.cc}; Node.js ${m.node}, socket.io ${m.socket_io}, ws ${m.ws}; ` +
    `roost at ${m.roost_commit}. Server on CPU ${m.server_cpu}, load generator on CPU ${m.loadgen_cpu}, ` +
    `one thread each; descriptor limit ${m.nofile}. Load average when the run began: ` +
    `${m.loadavg_at_start}${parseFloat(m.loadavg_at_start) > 0.5 ? " (other work was running: expect noise)" : ""}.`);
lines.push("");
if (env.BENCH_ROOST_OK === "0")
    lines.push("**roost was not measured in this run** (binary missing or without `--conformance`): " +
        "its columns are empty and the targets read “not measured”.\n");
lines.push("Ratios read “how many times better roost is” (higher throughput, or lower latency and memory); " +
    "below 1× roost is behind.");
lines.push("");
lines.push("#### Targets (issue 12)");
lines.push("");
lines.push("| target | status | figure |");
lines.push("|---|---|---|");
for (const t of targets) lines.push(`| ${t.target} | ${t.status} | ${t.detail} |`);
lines.push("");
for (const [scen, [title, kind]] of Object.entries(SCENARIOS)) {
    const s = summary[scen];
    if (!s) continue;
    lines.push(`#### ${scen}: ${title}`);
    lines.push("");
    if (kind === "commit") {
        commitTable(s, kind);
        continue;
    }
    if (kind === "cluster") {
        clusterTable(s, kind);
        continue;
    }
    const present = TARGETS.filter((t) => s[t] || (t === "roost" && kind !== undefined));
    const hasFloor = !!s.floor;
    const head = ["metric", "roost", PEER_TITLE[scen] ?? "Node.js socket.io"];
    if (hasFloor) head.push("epoll floor");
    head.push("roost vs Node.js");
    if (hasFloor) head.push("roost vs floor");
    lines.push(`| ${head.join(" | ")} |`);
    lines.push(`|${head.map(() => "---").join("|")}|`);
    for (const [name, unit, , better] of METRICS[kind]) {
        const row = [unit ? `${name} (${unit})` : name, cell(s.roost, name, unit), cell(s.node, name, unit)];
        if (hasFloor) row.push(cell(s.floor, name, unit));
        row.push(ratio(get(scen, "roost", name), get(scen, "node", name), better));
        if (hasFloor) row.push(ratio(get(scen, "roost", name), get(scen, "floor", name), better));
        lines.push(`| ${row.join(" | ")} |`);
    }
    const notes = [];
    for (const t of present) {
        const x = s[t];
        if (!x) continue;
        if (x.failed) notes.push(`${TARGET_TITLE[t]}: ${x.failed} of ${x.runs} runs failed`);
        if (x.errors) notes.push(`${TARGET_TITLE[t]}: ${x.errors} errors`);
        if (x.timeouts) notes.push(`${TARGET_TITLE[t]}: ${x.timeouts} runs hit their time bound`);
    }
    if (notes.length) lines.push("", `Notes: ${notes.join("; ")}.`);
    lines.push("");
}
tlsCostTable();
const skipped = (env.BENCH_SKIPPED ?? "").split(" ").filter(Boolean);
if (skipped.length) {
    lines.push("#### Not measured in this run");
    lines.push("");
    lines.push(`- Skipped to stay within the time budget (or PostgreSQL missing): ${skipped.join(", ")}.`);
    lines.push("");
}
const markdown = lines.join("\n");

// group commit against one transaction per write: roost against itself, no peer
function commitTable(s, kind) {
    const head = ["metric", COMMIT_TITLE.group, COMMIT_TITLE["1tx"], "group vs one per write"];
    lines.push(`| ${head.join(" | ")} |`);
    lines.push(`|${head.map(() => "---").join("|")}|`);
    for (const [name, unit, , better] of METRICS[kind]) {
        const g = s.group?.metrics?.[name]?.median;
        const o = s["1tx"]?.metrics?.[name]?.median;
        lines.push(`| ${unit ? `${name} (${unit})` : name} | ${cell(s.group, name, unit)} | ` +
            `${cell(s["1tx"], name, unit)} | ${ratio(g, o, better)} |`);
    }
    const notes = [];
    for (const t of COMMIT_TARGETS) {
        const x = s[t];
        if (x?.failed) notes.push(`${COMMIT_TITLE[t]}: ${x.failed} of ${x.runs} runs failed`);
        if (x?.errors) notes.push(`${COMMIT_TITLE[t]}: ${x.errors} errors`);
    }
    if (notes.length) lines.push("", `Notes: ${notes.join("; ")}.`);
    lines.push("");
}

// roost on 1 and 2 nodes and the Node.js peer on 2 (and 1, when measured), all with the Redis
// adapter; every node, Redis included, on the server CPU
function clusterTable(s, kind) {
    const present = CLUSTER_TARGETS.filter((t) => s[t]);
    const head = ["metric", ...present.map((t) => CLUSTER_TITLE[t])];
    if (s.one && s.two) head.push("roost 2 nodes vs 1");
    if (s.two && s.node) head.push("roost vs Node.js, 2 nodes");
    lines.push(`| ${head.join(" | ")} |`);
    lines.push(`|${head.map(() => "---").join("|")}|`);
    for (const [name, unit, , better] of METRICS[kind]) {
        const row = [unit ? `${name} (${unit})` : name, ...present.map((t) => cell(s[t], name, unit))];
        const m = (t) => s[t]?.metrics?.[name]?.median;
        if (s.one && s.two) row.push(ratio(m("two"), m("one"), better));
        if (s.two && s.node) row.push(ratio(m("two"), m("node"), better));
        lines.push(`| ${row.join(" | ")} |`);
    }
    const notes = [];
    for (const t of present) {
        const x = s[t];
        if (x.failed) notes.push(`${CLUSTER_TITLE[t]}: ${x.failed} of ${x.runs} runs failed`);
        if (x.errors) notes.push(`${CLUSTER_TITLE[t]}: ${x.errors} errors`);
        if (x.timeouts) notes.push(`${CLUSTER_TITLE[t]}: ${x.timeouts} runs hit their time bound`);
    }
    notes.push("every node and Redis share the server CPU (the load generator has the other): this " +
        "shows what crossing nodes through Redis costs, not what a second machine would add");
    lines.push("", `Notes: ${notes.join("; ")}.`);
    lines.push("");
}

// What TLS adds to one connection: server CPU per handshake (storm-wss against storm-ws) and
// memory per idle connection (idle-tls-N against idle-N), from the same run.
function tlsCostTable() {
    const idle = ["10000", "2000"].find((n) => summary[`idle-tls-${n}`] && summary[`idle-${n}`]);
    const hs = "server CPU per handshake";
    const kib = "KiB per connection";
    const rows = [];
    const add = (label, unit, f, better) => {
        const r = f("roost");
        const n = f("node");
        if (r === undefined && n === undefined) return;
        rows.push(`| ${label} (${unit}) | ${num(r)} | ${num(n)} | ${ratio(r, n, better)} |`);
    };
    const diff = (a, b) => (a !== undefined && b !== undefined ? a - b : undefined);
    if (summary["storm-wss"] && summary["storm-ws"]) {
        add("server CPU per handshake, WebSocket", "µs", (t) => get("storm-ws", t, hs), "low");
        add("server CPU per handshake, WSS", "µs", (t) => get("storm-wss", t, hs), "low");
        add("**TLS adds per handshake**", "µs", (t) => diff(get("storm-wss", t, hs), get("storm-ws", t, hs)), "low");
    }
    if (idle) {
        add(`idle connection, WebSocket (idle-${idle})`, "KiB", (t) => get(`idle-${idle}`, t, kib), "low");
        add(`idle connection, WSS (idle-tls-${idle})`, "KiB", (t) => get(`idle-tls-${idle}`, t, kib), "low");
        add("**TLS adds per idle connection**", "KiB",
            (t) => diff(get(`idle-tls-${idle}`, t, kib), get(`idle-${idle}`, t, kib)), "low");
    }
    if (!rows.length) return;
    lines.push("#### tls-cost: what TLS adds to one connection (issue 13)");
    lines.push("");
    lines.push(`| figure (medians of this run) | roost | ${TLS_PEER} | roost vs Node.js |`);
    lines.push("|---|---|---|---|");
    lines.push(...rows);
    lines.push("");
    lines.push("Server CPU time is user + system time of the server process (all its threads) from " +
        "`/proc/PID/stat` over the measured window, divided by the handshakes completed in it: what a " +
        "connection costs the server whoever limits the rate (with TLS the load generator's own " +
        "handshake work, on its one core, limits it). Kernel work done in the client's context " +
        "(loopback delivery) is not in it.");
    lines.push("");
}

// ---- files --------------------------------------------------------------------------------
fs.mkdirSync(results, { recursive: true });
const out = {
    stamp,
    quick,
    rounds: Number(env.BENCH_ROUNDS ?? 0),
    elapsed_s: Number(env.BENCH_ELAPSED ?? 0),
    roost_measured: env.BENCH_ROOST_OK !== "0",
    skipped: (env.BENCH_SKIPPED ?? "").split(" ").filter(Boolean),
    machine: m,
    targets,
    summary,
    runs,
};
const jsonName = path.join(results, `${publish ? "full" : "quick"}-${stamp}.json`);
fs.writeFileSync(jsonName, JSON.stringify(out, null, 1) + "\n");
fs.writeFileSync(path.join(results, publish ? "latest.json" : "quick.json"), JSON.stringify(out, null, 1) + "\n");
if (!publish) {
    fs.writeFileSync(path.join(results, "quick.md"), markdown + "\n");
    console.error(`report: ${jsonName}, ${results}/quick.md`);
} else {
    const readme = "bench/README.md";
    const begin = "<!-- bench:results:begin -->";
    const end = "<!-- bench:results:end -->";
    let text = fs.existsSync(readme) ? fs.readFileSync(readme, "utf8") : `${begin}\n${end}\n`;
    const i = text.indexOf(begin);
    const j = text.indexOf(end);
    if (i < 0 || j < i) text += `\n${begin}\n${end}\n`;
    const a = text.indexOf(begin) + begin.length;
    const b = text.indexOf(end);
    text = text.slice(0, a) + "\n" + markdown + "\n" + text.slice(b);
    fs.writeFileSync(readme, text);
    console.error(`report: ${jsonName}, tables in ${readme}`);
}
console.log(markdown);

// ---- plots --------------------------------------------------------------------------------
plots();

function plots() {
    const have = spawnSync("gnuplot", ["--version"], { encoding: "utf8" });
    if (have.status !== 0) {
        console.error("report: gnuplot not found, no plots");
        return;
    }
    fs.rmSync(plotDir, { recursive: true, force: true });
    fs.mkdirSync(plotDir, { recursive: true });
    const prefix = publish ? "" : "quick-";
    const series = (kind, metric, scale = 1, targets = TARGETS) => {
        const rows = [];
        for (const [scen, [, k]] of Object.entries(SCENARIOS)) {
            if (k !== kind || !summary[scen]) continue;
            const cols = [scen];
            for (const t of targets) {
                const x = summary[scen][t]?.metrics?.[metric];
                cols.push(...(x ? [x.median * scale, x.min * scale, x.max * scale] : ["?", "?", "?"]));
            }
            rows.push(cols.join(" "));
        }
        return rows;
    };
    const charts = [
        ["echo-throughput", "Echo throughput (messages/s, log scale)", "messages/s", series("echo", "messages/s"), true],
        ["echo-latency", "Echo round trip p99 (ms, log scale)", "ms", series("echo", "latency p99"), true],
        ["idle-memory", "Idle connection: server RSS growth per connection (KiB)", "KiB", series("idle", "KiB per connection"), false],
        ["fanout", "Fan-out: time until the last member has the event, p50 (ms)", "ms", series("fanout", "to last member p50"), false],
        ["storm", "Connection storm: handshakes per second", "handshakes/s", series("storm", "handshakes/s"), false],
        ["chat-latency", "Durable chat: sendMessage sent until the other member has `chatroom`, p50 (ms, log scale)",
            "ms", series("chat", "send → chatroom p50"), true],
        ["http-rate", "HTTP: requests per second (wrk, log scale)", "requests/s", series("http", "requests/s"), true],
        ["durable-writes", "Durable writes per second: group commit vs one transaction per write", "writes/s",
            series("commit", "writes/s", 1, COMMIT_TARGETS), false, COMMIT_TARGETS],
        ["cluster-fanout", "Fan-out across nodes (Redis adapter): time until the last member has the event, p50 (ms)",
            "ms", series("cluster", "to last member p50", 1, CLUSTER_TARGETS), false, CLUSTER_TARGETS],
    ];
    let script = "set terminal svg size 960,480 dynamic enhanced font 'sans,11' background rgb 'white'\n" +
        "set datafile missing '?'\nset style data histograms\nset style histogram errorbars gap 2 lw 1\n" +
        "set style fill solid 0.8 border -1\nset key top left\nset grid ytics\nset xtics rotate by -20\n" +
        "set yrange [0:*]\n";
    let made = 0;
    for (const [name, title, ylabel, rows, log, targets = TARGETS] of charts) {
        if (!rows.length) continue;
        const dat = path.join(plotDir, `${name}.dat`);
        fs.writeFileSync(dat, rows.join("\n") + "\n");
        // a series with no figure at all (roost not measured yet) would stop gnuplot
        const cols = targets.map((t, i) => {
            const c = 2 + 3 * i;
            if (rows.every((r) => r.split(" ")[c - 1] === "?")) return null;
            const ttl = TARGET_TITLE[t] ?? COMMIT_TITLE[t] ?? CLUSTER_TITLE[t];
            const color = TARGET_COLOR[t] ?? COMMIT_COLOR[t] ?? CLUSTER_COLOR[t];
            return `'${dat}' using ${c}:${c + 1}:${c + 2}:xtic(1) title '${ttl}' lc rgb '${color}'`;
        }).filter(Boolean);
        if (!cols.length) continue;
        script += `set output '${results}/${prefix}${name}.svg'\nset title "${title}"\nset ylabel "${ylabel}"\n`;
        script += log ? "set logscale y\nset yrange [*:*]\n" : "unset logscale y\nset yrange [0:*]\n";
        script += `plot ${cols.join(", \\\n     ")}\n`;
        made++;
    }
    const gp = path.join(plotDir, "plots.gp");
    fs.writeFileSync(gp, script);
    const res = spawnSync("gnuplot", [gp], { encoding: "utf8" });
    if (res.status !== 0) console.error(`report: gnuplot failed: ${res.stderr}`);
    else console.error(`report: ${made} plots in ${results}/${prefix}*.svg`);
}
