// roost's /graphql with what real clients send: the GraphQL-over-HTTP audit of graphql-http
// (every MUST and SHOULD), graphql-request, urql (queries over GET), Apollo Client core
// (mutations, fragments, variables, __typename everywhere), and introspection round-tripped
// through graphql-js's buildClientSchema - compared with docs/schema.graphql, the contract.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { serverAudits } from 'graphql-http';
import { GraphQLClient, ClientError } from 'graphql-request';
import { Client as UrqlClient, fetchExchange } from '@urql/core';
import { ApolloClient, InMemoryCache, HttpLink, gql as apolloGql } from '@apollo/client/core/index.js';
import {
  buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema,
} from 'graphql';
import { startRoost, repoRoot } from './lib/roost.mjs';
import { bearer, client, PASSWORD, uniqueName } from './lib/gql.mjs';

const STORE = process.env.ROOST_TEST_PG || undefined;
let roost;
let g;
let endpoint;
before(async () => {
  roost = await startRoost({ store: STORE });
  g = client(roost.url);
  endpoint = `${roost.url}/graphql`;
});
after(async () => {
  await roost.stop();
  await roost.cleanup();
});

describe('GraphQL over HTTP audit (graphql-http serverAudits)', () => {
  test('every MUST and SHOULD audit passes', async () => {
    const results = { MUST: { ok: 0, fail: [] }, SHOULD: { ok: 0, fail: [] }, MAY: { ok: 0, fail: [] } };
    for (const audit of serverAudits({ url: endpoint, fetchFn: fetch })) {
      const level = audit.name.split(' ')[0];
      const res = await audit.fn();
      const bucket = results[level];
      if (res.status === 'ok') bucket.ok++;
      else bucket.fail.push(`${audit.id} ${audit.name}: ${res.reason}`);
    }
    const summary = Object.entries(results).map(([k, v]) => `${k} ${v.ok}/${v.ok + v.fail.length}`).join(', ');
    console.log(`graphql-http audit: ${summary}`);
    if (results.MAY.fail.length) console.log(`MAY not met:\n  ${results.MAY.fail.join('\n  ')}`);
    assert.deepEqual(results.MUST.fail, []);
    assert.deepEqual(results.SHOULD.fail, []);
    assert.ok(results.MUST.ok >= 13 && results.SHOULD.ok >= 20, summary);
  });
});

describe('introspection', () => {
  test('buildClientSchema reproduces docs/schema.graphql exactly', async () => {
    const d = await g.data(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }));
    const served = lexicographicSortSchema(buildClientSchema(d));
    const contract = lexicographicSortSchema(buildSchema(readFileSync(path.join(repoRoot, 'docs', 'schema.graphql'), 'utf8')));
    assert.equal(printSchema(served), printSchema(contract));
  });

  test('__type(name:) and __typename', async () => {
    const d = await g.data('{ __typename __type(name: "ChatroomKind") { kind enumValues { name } } }');
    assert.equal(d.__typename, 'Query');
    assert.deepEqual(d.__type, { kind: 'ENUM', enumValues: [{ name: 'DIRECT' }, { name: 'GROUP' }] });
  });
});

describe('real clients', () => {
  test('graphql-request: register, variables, errors, Bearer auth', async () => {
    const gr = new GraphQLClient(endpoint);
    const name = uniqueName('gr');
    const reg = await gr.request(
      `mutation R($u: String!, $d: String!, $p: String!) { register(username: $u, displayName: $d, password: $p) { id secretkey user { id username } } }`,
      { u: name, d: 'Graph Request', p: PASSWORD },
    );
    assert.equal(reg.register.user.username, name);
    const authed = new GraphQLClient(endpoint, { headers: bearer(reg.register) });
    const me = await authed.request('query { me { id username displayName } }');
    assert.deepEqual(me.me, { id: reg.register.user.id, username: name, displayName: 'Graph Request' });
    await assert.rejects(
      gr.request('mutation R($u: String!) { register(username: $u, displayName: "X", password: "short") { id } }', { u: uniqueName('x') }),
      (e) => e instanceof ClientError && e.response.errors[0].extensions.field === 'password',
    );
    await assert.rejects(gr.request('{ chatrooms { nodes { id } } }'), (e) => e.response.errors[0].message === 'unauthenticated');
  });

  test('urql: queries travel as GET, mutations as POST', async () => {
    const a = await g.register('urql');
    const methods = [];
    const urql = new UrqlClient({
      url: endpoint,
      exchanges: [fetchExchange],
      preferGetMethod: true,
      fetchOptions: { headers: bearer(a) },
      fetch: (url, opts) => {
        methods.push(opts.method || 'GET');
        return fetch(url, opts);
      },
    });
    const q = await urql.query('query Me { me { id username followerCount } }', {}).toPromise();
    assert.equal(q.error, undefined, String(q.error));
    assert.equal(q.data.me.id, a.user.id);
    const users = await urql.query('query U($s: String) { users(search: $s, first: 5) { nodes { id username } pageInfo { hasNextPage endCursor } } }', { s: a.name }).toPromise();
    assert.equal(users.data.users.nodes[0].username, a.name);
    const b = await g.register('urqlb');
    const m = await urql.mutation('mutation F($id: ID!) { followUnfollowUser(userId: $id) { following user { id followerCount } } }', { id: b.user.id }).toPromise();
    assert.equal(m.error, undefined, String(m.error));
    assert.equal(m.data.followUnfollowUser.following, true);
    assert.deepEqual(methods, ['GET', 'GET', 'POST']);
    // A mutation forced over GET is refused (405) without running.
    const url = new URL(endpoint);
    url.searchParams.set('query', `mutation { followUnfollowUser(userId: "${b.user.id}") { following } }`);
    const res = await fetch(url, { headers: { accept: 'application/json', ...bearer(a) } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    const check = await g.data('query U($id: ID!) { user(id: $id) { followerCount } }', { id: b.user.id });
    assert.equal(check.user.followerCount, 1);
  });

  test('Apollo Client core: mutations, fragments, variables, __typename', async () => {
    const a = await g.register('apo');
    const b = await g.register('apob');
    const apollo = new ApolloClient({
      link: new HttpLink({ uri: endpoint, fetch, headers: bearer(a) }),
      cache: new InMemoryCache(),
    });
    const USER = apolloGql`fragment UserBits on User { id username displayName followerCount isFollowedByMe }`;
    const follow = await apollo.mutate({
      mutation: apolloGql`mutation Follow($id: ID!) { followUnfollowUser(userId: $id) { following user { ...UserBits } } } ${USER}`,
      variables: { id: b.user.id },
    });
    assert.equal(follow.data.followUnfollowUser.__typename, 'FollowResult');
    assert.equal(follow.data.followUnfollowUser.user.__typename, 'User');
    assert.equal(follow.data.followUnfollowUser.user.isFollowedByMe, true);
    const open = await apollo.mutate({
      mutation: apolloGql`mutation Open($id: ID!) { getLocation(userId: $id) { id kind ... on Chatroom { members { ...UserBits } } } } ${USER}`,
      variables: { id: b.user.id },
    });
    const room = open.data.getLocation.id;
    assert.equal(open.data.getLocation.kind, 'DIRECT');
    const sent = await apollo.mutate({
      mutation: apolloGql`mutation Send($room: ID!, $text: String!) { sendMessage(chatroomId: $room, text: $text) { id text sender { ...UserBits } } } ${USER}`,
      variables: { room, text: 'from apollo' },
    });
    assert.equal(sent.data.sendMessage.text, 'from apollo');
    const q = await apollo.query({
      query: apolloGql`query Room($id: ID!, $last: Int = 10, $withMembers: Boolean!) {
        chatroom(id: $id) { id unreadCount members @include(if: $withMembers) { id } lastMessage { id text } messages(last: $last) { nodes { id text } pageInfo { hasPreviousPage startCursor } } }
      }`,
      variables: { id: room, withMembers: false },
    });
    assert.equal(q.data.chatroom.members, undefined);
    assert.equal(q.data.chatroom.lastMessage.text, 'from apollo');
    assert.equal(q.data.chatroom.messages.nodes.length, 1);
    // A chatroom of two other users: refused with an error (Apollo rejects), not an empty result.
    const c = await g.register('apoc');
    const d = await g.register('apod');
    const other = (await g.data('mutation O($id: ID!) { getLocation(userId: $id) { id } }', { id: d.user.id }, { creds: c })).getLocation.id;
    await assert.rejects(
      apollo.query({ query: apolloGql`query Bad($id: ID!) { chatroom(id: $id) { id } }`, variables: { id: other } }),
      (e) => e.graphQLErrors && e.graphQLErrors[0].extensions.code === 'NOT_FOUND',
    );
  });

  test('validation and limits come back as GraphQL errors', async () => {
    const r1 = await g.post('{ me { nope } }');
    assert.match(r1.body.errors[0].message, /Cannot query field "nope"/);
    const deep = `{ me { ${'followers { nodes { '.repeat(12)} id ${'} } '.repeat(12)} } }`;
    const r2 = await g.post(deep);
    assert.ok(r2.body.errors && r2.body.errors.length);
    const r3 = await g.post('mutation { register(username: "a") { id } }');
    assert.match(r3.body.errors[0].message, /argument "displayName"/);
  });
});
