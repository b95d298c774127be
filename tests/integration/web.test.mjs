// The web client in a real browser against the real roost binary (issue 10): two people register,
// follow, chat live, survive a reload, a forged cookie is thrown out, and the connection
// indicator walks through reconnecting -> offline -> Retry when roost stops and comes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRoost } from './lib/roost.mjs';
import {
    connected,
    cookieMap,
    launchBrowser,
    openPerson,
    pageGql,
    readConnLog,
    recordConn,
    screenshot,
    waitForAttr,
    waitForPath,
    waitForText,
} from './lib/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(here, '../../web/dist/index.html');
const XSS = '<img src=x onerror=alert(1)>';
const PASSWORD = 'correct horse battery staple';

const tag = Math.random().toString(36).slice(2, 8);
const A = { username: `alice_${tag}`, displayName: 'Alice Example' };
const B = { username: `bob_${tag}`, displayName: 'Bob Example' };

async function register(page, who) {
    await page.goto('/portal');
    await page.getByTestId('portal-tab-register').click();
    await page.getByTestId('register-username').fill(who.username);
    await page.getByTestId('register-displayname').fill(who.displayName);
    await page.getByTestId('register-password').fill(PASSWORD);
    await page.getByTestId('register-submit').click();
}

function messages(page) {
    return page.getByTestId('message-list').getByTestId('message-text');
}

async function send(page, text) {
    await page.getByTestId('message-input').fill(text);
    await page.getByTestId('message-input').press('Enter');
}

async function waitForMessage(page, text, timeout = 15000) {
    await messages(page).filter({ hasText: text }).first().waitFor({ timeout });
}

test('web client: portal, people, chats, live updates, session and reconnection', async (t) => {
    assert.ok(fs.existsSync(DIST), `web client not built (${DIST} missing): run \`make web\``);
    const roost = await startRoost({});
    const browser = await launchBrowser();
    t.after(async () => {
        await browser.close().catch(() => {});
        await roost.stop().catch(() => {});
    });
    // A on a desktop-sized window, B on a phone-sized one.
    const a = await openPerson(browser, roost.url, { name: 'A' });
    const b = await openPerson(browser, roost.url, { name: 'B', viewport: { width: 390, height: 780 } });
    let chatPath = null;

    await t.test('the portal validates inline and registers both people', async () => {
        await a.page.goto('/');
        await waitForPath(a.page, /^\/portal$/);
        await connected(a.page);
        await screenshot(a.page, 'portal');

        // Client-side validation: nothing filled in.
        await a.page.getByTestId('register-submit').click();
        await waitForText(a.page.getByTestId('register-username-error'), /username/i);
        await waitForText(a.page.getByTestId('register-password-error'), /password/i);
        await screenshot(a.page, 'portal-errors');

        await register(a.page, A);
        await waitForPath(a.page, /^\/people$/);

        // A server-side error shows inline: B tries A's username first.
        await register(b.page, { ...B, username: A.username });
        const err = b.page.locator('[data-testid$="-error"]');
        await err.first().waitFor({ timeout: 15000 });
        assert.match(await err.first().textContent(), /\S/);
        assert.equal(new URL(b.page.url()).pathname, '/portal');
        await register(b.page, B);
        await waitForPath(b.page, /^\/people$/);

        for (const p of [a, b]) {
            const c = await cookieMap(p.context);
            assert.ok(c.id && c.id.value, 'id cookie set');
            assert.ok(c.secretkey && c.secretkey.value, 'secretkey cookie set');
            assert.equal(c.secretkey.sameSite, 'Strict');
            assert.equal(c.secretkey.path, '/');
            await connected(p.page);
        }
    });

    await t.test('A finds B and follows: B gets a toast and the new count', async () => {
        await a.page.getByTestId('people-search').fill(B.username);
        const row = a.page.locator(`[data-testid="user-row"][data-username="${B.username}"]`);
        await row.waitFor();
        await waitForAttr(row.getByTestId('follower-count'), 'data-count', '0');
        await waitForAttr(b.page.getByTestId('my-follower-count'), 'data-count', '0');
        await screenshot(a.page, 'people');

        await row.getByTestId('follow-btn').click();
        await waitForAttr(row.getByTestId('follow-btn'), 'aria-pressed', 'true');
        await waitForAttr(row.getByTestId('follower-count'), 'data-count', '1');

        await waitForText(b.page.getByTestId('toast'), new RegExp(`${A.displayName}.*followed you`));
        await waitForAttr(b.page.getByTestId('my-follower-count'), 'data-count', '1');
        await screenshot(b.page, 'people-toast-phone');
    });

    await t.test('A opens a chat and sends: B sees the list update and the message live', async () => {
        await b.page.getByTestId('nav-chats').click();
        await waitForPath(b.page, /^\/chats$/);

        await a.page
            .locator(`[data-testid="user-row"][data-username="${B.username}"]`)
            .getByTestId('message-btn')
            .click();
        await waitForPath(a.page, /^\/chats\/[^/]+$/);
        chatPath = new URL(a.page.url()).pathname;
        await waitForText(a.page.getByTestId('convo-title'), new RegExp(B.displayName));

        await send(a.page, 'Hello Bob!');
        await waitForMessage(a.page, 'Hello Bob!');

        const item = b.page.getByTestId('chat-item');
        await waitForText(item.getByTestId('chat-preview'), /Hello Bob!/);
        await waitForAttr(item.getByTestId('unread-badge'), 'data-count', '1');
        await screenshot(b.page, 'chats-phone');

        await item.first().getByRole('link').click();
        await waitForPath(b.page, /^\/chats\/[^/]+$/);
        assert.equal(new URL(b.page.url()).pathname, chatPath, 'both are in the same room');
        await waitForMessage(b.page, 'Hello Bob!');
        await b.page.getByTestId('unread-marker').waitFor();

        // Live while B is looking, and text is never HTML.
        await send(a.page, XSS);
        await waitForMessage(b.page, XSS);
        assert.equal(await b.page.getByTestId('message-list').locator('img').count(), 0);
        assert.equal(await a.page.getByTestId('message-list').locator('img').count(), 0);

        await send(b.page, 'Hi Alice, got it');
        await waitForMessage(a.page, 'Hi Alice, got it');
        await screenshot(a.page, 'conversation');
        await screenshot(b.page, 'conversation-phone');

        // Viewing marked the room read: back on the list, no badge.
        await b.page.getByTestId('back-to-chats').click();
        await waitForPath(b.page, /^\/chats$/);
        await waitForText(b.page.getByTestId('chat-preview'), /Hi Alice, got it/);
        await b.page.waitForFunction(() => !document.querySelector('[data-testid="unread-badge"]'), null, {
            timeout: 15000,
        });
        await b.page.getByTestId('chat-item').first().getByRole('link').click();
        await waitForPath(b.page, /^\/chats\/[^/]+$/);
        await waitForMessage(b.page, 'Hi Alice, got it');
    });

    await t.test('a reload keeps both sessions', async () => {
        for (const p of [a, b]) {
            await p.page.reload();
            await connected(p.page);
            assert.equal(new URL(p.page.url()).pathname, chatPath);
            await waitForMessage(p.page, 'Hello Bob!');
            const c = await cookieMap(p.context);
            assert.ok(c.id && c.secretkey, 'cookies survive the reload');
        }
        await send(a.page, 'after reload');
        await waitForMessage(b.page, 'after reload');
    });

    await t.test('scroll-back loads the earlier history, each message once and in order', async () => {
        const roomId = decodeURIComponent(chatPath.split('/').pop());
        const texts = Array.from({ length: 35 }, (_, i) => `history ${String(i).padStart(2, '0')}`);
        for (const text of texts) {
            const r = await pageGql(
                a.page,
                'mutation Send($id: ID!, $text: String!) { sendMessage(chatroomId: $id, text: $text) { id } }',
                { id: roomId, text },
            );
            assert.equal(r.errors, undefined, JSON.stringify(r.errors));
        }
        await waitForMessage(b.page, texts.at(-1));
        await b.page.reload();
        await connected(b.page);
        await waitForMessage(b.page, texts.at(-1));
        await b.page.getByTestId('load-earlier').waitFor();
        assert.equal(await messages(b.page).filter({ hasText: 'Hello Bob!' }).count(), 0, 'first page is the newest');
        // Scrolling to the top fetches the page before it.
        await b.page.getByTestId('message-scroll').evaluate((el) => {
            el.scrollTop = 0;
        });
        await waitForMessage(b.page, 'Hello Bob!');
        await b.page.getByTestId('load-earlier').waitFor({ state: 'detached' });
        const all = await messages(b.page).allTextContents();
        assert.deepEqual(all.slice(0, 3), ['Hello Bob!', XSS, 'Hi Alice, got it']);
        assert.deepEqual(
            all.filter((x) => x.startsWith('history ')),
            texts,
        );
        assert.equal(new Set(await b.page.getByTestId('message').evaluateAll((els) => els.map((e) => e.dataset.messageId))).size, all.length);
    });

    await t.test('a wrong secret lands on /portal with both cookies gone', async () => {
        const { id } = await cookieMap(a.context);
        const wrong = () => crypto.randomBytes(32).toString('base64url'); // well-formed, wrong
        // On load: A's id with a wrong secret.
        const c = await openPerson(browser, roost.url, { name: 'C' });
        await c.context.addCookies([
            { name: 'id', value: id.value, url: roost.url, sameSite: 'Strict' },
            { name: 'secretkey', value: wrong(), url: roost.url, sameSite: 'Strict' },
        ]);
        await c.page.goto('/chats');
        await waitForPath(c.page, /^\/portal$/);
        await c.page.waitForFunction(() => !/(^|;\s*)(id|secretkey)=/.test(document.cookie), null, { timeout: 15000 });
        const left = await cookieMap(c.context);
        assert.equal(left.id, undefined);
        assert.equal(left.secretkey, undefined);
        await c.page.getByTestId('signed-out-note').waitFor();
        await screenshot(c.page, 'portal-signed-out');

        // When the cookies change under a running page (the seed's cookie effect); an unknown id
        // this time, so A's account collects only one failure against any rate limit.
        await connected(c.page);
        await c.context.addCookies([
            { name: 'id', value: wrong().slice(0, 16), url: roost.url, sameSite: 'Strict' },
            { name: 'secretkey', value: wrong(), url: roost.url, sameSite: 'Strict' },
        ]);
        await c.page.waitForFunction(() => !/(^|;\s*)(id|secretkey)=/.test(document.cookie), null, { timeout: 15000 });
        await waitForPath(c.page, /^\/portal$/);
        assert.deepEqual(c.errors, []);
        await c.context.close();
    });

    await t.test('roost stopped: reconnecting attempts 1..5 a second apart, then offline', async () => {
        await Promise.all([recordConn(a.page), recordConn(b.page)]);
        await roost.stop();
        for (const p of [a, b]) await waitForText(p.page.getByTestId('conn-status'), /attempt [1-5] of 5/);
        await screenshot(a.page, 'reconnecting');
        for (const p of [a, b]) await waitForAttr(p.page.getByTestId('conn'), 'data-state', 'offline', 20000);
        await a.page.getByTestId('conn-retry').waitFor();
        await screenshot(a.page, 'offline');

        const log = await readConnLog(a.page);
        const attempts = log.filter((e) => e.state === 'reconnecting' && /attempt \d/.test(e.text));
        assert.deepEqual(
            attempts.map((e) => Number(/attempt (\d)/.exec(e.text)[1])),
            [1, 2, 3, 4, 5],
            `attempts seen: ${JSON.stringify(log)}`,
        );
        for (let i = 1; i < attempts.length; i++) {
            const gap = attempts[i].t - attempts[i - 1].t;
            assert.ok(gap > 800 && gap < 1900, `attempt ${i + 1} came ${Math.round(gap)} ms after the previous one`);
        }
    });

    await t.test('roost restarted and Retry: chatting continues', async () => {
        await roost.restart();
        for (const p of [a, b]) {
            await p.page.getByTestId('conn-retry').click();
            await connected(p.page);
        }
        await send(b.page, 'back online');
        await waitForMessage(a.page, 'back online');
        await send(a.page, 'welcome back');
        await waitForMessage(b.page, 'welcome back');
        await screenshot(b.page, 'conversation-after-restart-phone');
    });

    await t.test('log out, then log in again from the portal (keyboard tabs)', async () => {
        await a.page.getByTestId('logout').click();
        await waitForPath(a.page, /^\/portal$/);
        const gone = await cookieMap(a.context);
        assert.equal(gone.id, undefined);
        assert.equal(gone.secretkey, undefined);
        await a.page.getByTestId('portal-tab-register').focus();
        await a.page.keyboard.press('ArrowRight');
        await waitForAttr(a.page.getByTestId('portal-tab-login'), 'aria-selected', 'true');
        await a.page.getByTestId('login-username').fill(A.username);
        await a.page.getByTestId('login-password').fill(PASSWORD);
        await a.page.getByTestId('login-password').press('Enter');
        await waitForPath(a.page, /^\/chats$/);
        await connected(a.page);
        await waitForText(a.page.getByTestId('chat-preview'), /welcome back/);
        await screenshot(a.page, 'chats');
    });

    await t.test('no uncaught errors and no dialogs in either page', () => {
        assert.deepEqual([...a.errors, ...b.errors], []);
        assert.deepEqual([...a.dialogs, ...b.dialogs], []);
    });
});
