// Helpers for driving roost's web client in Debian's headless Chromium through playwright-core.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.resolve(here, '../../artifacts');

export const CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
];

/** Launch headless Chromium (CHROMIUM_PATH overrides /usr/bin/chromium). */
export function launchBrowser() {
    return chromium.launch({
        executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
        headless: true,
        args: CHROMIUM_ARGS,
    });
}

/**
 * A fresh browser context (its own cookie jar: one "person") and a page on it. The returned
 * `errors` array collects uncaught page exceptions and `dialogs` any alert()/confirm() opened,
 * which the tests assert stay empty (an alert would mean text was run as HTML).
 */
export async function openPerson(browser, baseURL, { viewport = { width: 1100, height: 800 }, name = 'page' } = {}) {
    const context = await browser.newContext({ baseURL, viewport, deviceScaleFactor: 1 });
    context.setDefaultTimeout(15000);
    const page = await context.newPage();
    const errors = [];
    const dialogs = [];
    page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
    page.on('dialog', (d) => {
        dialogs.push(`${name}: ${d.type()} ${d.message()}`);
        d.dismiss().catch(() => {});
    });
    return { context, page, errors, dialogs };
}

/** Save a full-page PNG as tests/artifacts/web-<name>.png. */
export async function screenshot(page, name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `web-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
}

export async function cookieMap(context) {
    const out = {};
    for (const c of await context.cookies()) out[c.name] = c;
    return out;
}

/** Wait until `locator`'s text matches `re`; returns the text. Fails with the last text seen. */
export async function waitForText(locator, re, timeout = 15000) {
    const deadline = Date.now() + timeout;
    let last = '';
    for (;;) {
        try {
            last = (await locator.first().textContent({ timeout: 1000 })) ?? '';
            if (re.test(last)) return last;
        } catch {
            /* not attached yet */
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} (last text: ${JSON.stringify(last)})`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** Wait until `locator`'s attribute equals `value`. */
export async function waitForAttr(locator, name, value, timeout = 15000) {
    const deadline = Date.now() + timeout;
    let last = null;
    for (;;) {
        try {
            last = await locator.first().getAttribute(name, { timeout: 1000 });
            if (last === String(value)) return;
        } catch {
            /* not attached yet */
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${name}=${value} (last: ${last})`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

export async function waitForPath(page, re, timeout = 15000) {
    await page.waitForURL((u) => re.test(new URL(u).pathname), { timeout });
}

export function connected(page, timeout = 20000) {
    return waitForAttr(page.getByTestId('conn'), 'data-state', 'connected', timeout);
}

/**
 * Start recording every change of the connection indicator with the page's own clock, so the
 * reconnect attempts and their spacing can be checked afterwards with readConnLog().
 */
export async function recordConn(page) {
    await page.evaluate(() => {
        const log = [];
        window.__connLog = log;
        let prev = '';
        const snap = () => {
            const el = document.querySelector('[data-testid="conn"]');
            if (!el) return;
            const cur = `${el.getAttribute('data-state')}|${el.querySelector('[data-testid="conn-status"]')?.textContent ?? ''}`;
            if (cur === prev) return;
            prev = cur;
            const [state, text] = cur.split('|');
            log.push({ t: performance.now(), state, text });
        };
        snap();
        new MutationObserver(snap).observe(document.body, {
            subtree: true,
            childList: true,
            characterData: true,
            attributes: true,
            attributeFilter: ['data-state'],
        });
    });
}

export function readConnLog(page) {
    return page.evaluate(() => window.__connLog || []);
}

/** A GraphQL call from inside the page, with its cookies (for setup and checks). */
export function pageGql(page, query, variables = {}) {
    return page.evaluate(
        async ([q, v]) => {
            const r = await fetch('/graphql', {
                method: 'POST',
                credentials: 'same-origin',
                headers: { 'Content-Type': 'application/json' },
                body: JSON.stringify({ query: q, variables: v }),
            });
            return r.json();
        },
        [query, variables],
    );
}
