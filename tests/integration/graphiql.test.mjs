// GraphiQL (issue 8 item 6): a browser asking GET /graphql for text/html gets the GraphiQL page
// from the web bundle (web/dist/graphiql.html), which loads the schema by introspection and runs
// queries as the viewer logged in to that browser. API clients asking for JSON still get the
// GraphQL-over-HTTP error for a GET without a query, never the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRoost } from './lib/roost.mjs';
import { ARTIFACTS, launchBrowser, openPerson, pageGql } from './lib/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PAGE = path.resolve(here, '../../web/dist/graphiql.html');

test('GET /graphql from a browser serves GraphiQL; JSON clients still get a 400', async (t) => {
    assert.ok(fs.existsSync(PAGE), `GraphiQL not built (${PAGE} missing): run \`make web\``);
    const roost = await startRoost({});
    let browser = null;
    t.after(async () => {
        if (browser) await browser.close();
        await roost.stop();
    });

    // The server side first, so a missing route configuration fails with a clear message
    // instead of a browser time-out.
    const html = await fetch(`${roost.url}/graphql`, {
        headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    const htmlType = html.headers.get('content-type') || '';
    const htmlBody = await html.text();
    assert.ok(
        html.status === 200 && htmlType.startsWith('text/html') && htmlBody.includes('id="graphiql"'),
        'GET /graphql with Accept: text/html did not return the GraphiQL page ' +
            `(status ${html.status}, content-type "${htmlType}", body ${JSON.stringify(htmlBody.slice(0, 120))}); ` +
            'is gql_http_config_t.graphiql_path set to <web_root>/graphiql.html in src/app/platform.c?',
    );
    assert.equal(html.headers.get('cache-control'), 'no-cache');

    // An API client asking for JSON with no query gets the JSON error, not the page.
    for (const accept of ['application/json', 'application/graphql-response+json', '*/*']) {
        const res = await fetch(`${roost.url}/graphql`, { headers: { Accept: accept } });
        const type = res.headers.get('content-type') || '';
        assert.equal(res.status, 400, `Accept: ${accept}`);
        assert.match(type, /json/, `Accept: ${accept} got content-type ${type}`);
        const body = await res.json();
        assert.ok(Array.isArray(body.errors) && body.errors.length, `Accept: ${accept}: ${JSON.stringify(body)}`);
    }
    // A GET carrying a query is an operation even from a browser.
    const op = await fetch(`${roost.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
        headers: { Accept: 'application/json' },
    });
    assert.equal(op.status, 200);
    assert.deepEqual((await op.json()).data, { __typename: 'Query' });

    browser = await launchBrowser();
    const { context, page, errors, dialogs } = await openPerson(browser, roost.url, { name: 'graphiql' });
    const offsite = [];
    page.on('request', (req) => {
        const u = new URL(req.url());
        if (u.origin !== roost.url && u.protocol !== 'data:') offsite.push(req.url());
    });
    const failed = [];
    page.on('response', (res) => {
        if (res.status() >= 400 && !res.url().endsWith('/graphql')) failed.push(`${res.status()} ${res.url()}`);
    });

    const nav = await page.goto('/graphql');
    assert.equal(nav.status(), 200);
    assert.equal(await page.title(), 'roost GraphiQL');
    await page.locator('.graphiql-container').waitFor();
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor();

    // Log in on this origin; GraphiQL's requests carry the session cookie.
    const username = `giql_${Math.random().toString(36).slice(2, 8)}`;
    const reg = await pageGql(
        page,
        'mutation($u: String!, $d: String!, $p: String!) { register(username: $u, displayName: $d, password: $p) { user { username } } }',
        { u: username, d: 'GraphiQL Tester', p: 'correct horse battery staple' },
    );
    assert.equal(reg.errors, undefined, JSON.stringify(reg.errors));

    // The schema arrived by introspection: the docs explorer lists both root types.
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByText('Query', { exact: true }).first().waitFor();
    await docs.getByText('Mutation', { exact: true }).first().waitFor();

    // Type a query into the editor and run it with the run button.
    await page.evaluate((q) => {
        document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q);
    }, '{ __typename me { username displayName } }');
    await page.locator('.graphiql-execute-button').click();
    const result = page.locator('.graphiql-response');
    await result.getByText(`"${username}"`).waitFor();
    const text = await result.innerText();
    assert.match(text, /"__typename": "Query"/);
    assert.match(text, /"displayName": "GraphiQL Tester"/);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'graphiql.png') });

    assert.deepEqual(errors, [], 'uncaught page errors');
    assert.deepEqual(dialogs, []);
    assert.deepEqual(offsite, [], 'GraphiQL must load everything from roost (no CDN)');
    assert.deepEqual(failed, [], 'failed asset requests');
    await context.close();
});
