// GET /metrics: Prometheus text that a scraper can read, with the storage commit histograms
// consistent with the writes the test made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRoost } from './lib/roost.mjs';
import { client } from './lib/gql.mjs';

function parse(text) {
  const series = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-z_]+(?:\{[^}]*\})?) (-?[0-9.e+]+)$/);
    assert.ok(m, `malformed metrics line: ${line}`);
    series.set(m[1], Number(m[2]));
  }
  return series;
}

test('metrics: counters, gauges and commit histograms after real writes', async () => {
  const r = await startRoost({});
  try {
    const g = client(r.url);
    const a = await g.register('met');
    const b = await g.register('met');
    const room = (await g.data('mutation($u: ID!) { getLocation(userId: $u) { id } }', { u: b.user.id }, { creds: a })).getLocation.id;
    for (let i = 0; i < 5; i++) {
      await g.data('mutation($c: ID!, $t: String!) { sendMessage(chatroomId: $c, text: $t) { id } }', { c: room, t: `m${i}` }, { creds: a });
    }
    const res = await fetch(`${r.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/plain; version=0\.0\.4/);
    const s = parse(await res.text());
    assert.ok(s.get('roost_http_requests_total') >= 8);
    assert.ok(s.get('roost_messages_sent_total') >= 5);
    assert.ok(s.has('roost_eio_sessions{transport="websocket"}'));
    const count = s.get('roost_store_commit_seconds_count');
    assert.ok(count >= 1, 'commits were counted');
    // Buckets are cumulative and end at the count.
    const buckets = [...s.entries()].filter(([k]) => k.startsWith('roost_store_commit_seconds_bucket'));
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1]);
    assert.equal(s.get('roost_store_commit_seconds_bucket{le="+Inf"}'), count);
    assert.ok(s.get('roost_store_commit_seconds_sum') > 0);
    assert.equal(s.get('roost_store_commit_batch_size_count'), count);
    // Every write was committed in some batch: 2 users + sessions, 1 chatroom, 5 messages.
    assert.ok(s.get('roost_store_commit_batch_size_sum') >= 8);
    assert.ok(s.get('roost_store_commits_total') >= count);
    await r.stop();
  } finally {
    await r.cleanup();
  }
});
