// The api's pages in a real browser: Debian's chromium, headless, driven by playwright-core.
// Run by test/browser/run.sh (which starts the pipeline) with node's test runner. Every test
// fails on a console error, an uncaught page error, or any request to another host (those are
// also aborted, so nothing leaves the machine). Screenshots go to $SCREENSHOTS.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');

const { chromium } = require(path.join(process.env.WEB_MODULES, 'playwright-core'));
const BASE = process.env.BASE_URL;           // http://127.0.0.1:PORT
const TOKEN = process.env.API_TOKEN;
const SHOTS = process.env.SCREENSHOTS;
const HOST = new URL(BASE).host;

let browser;

// playwright-core gives every launch a fresh temporary --user-data-dir of its own.
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

// A fresh page whose problems are collected; check() asserts there were none. allowed: console
// messages expected by the test (Chromium reports every 4xx page it loads as a console error).
async function openPage(allowed = []) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.host !== HOST) {
      problems.push(`request to another host: ${url.href}`);
      return route.abort();
    }
    return route.continue();
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !allowed.some((re) => re.test(m.text()))) problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const url = new URL(r.url());
    const why = r.failure() && r.failure().errorText;
    // ERR_ABORTED: the page itself cancelled it (navigation, closing), not a failed answer.
    if (url.host === HOST && why !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${why}`);
  });
  return {
    page,
    async check() {
      const seen = [...problems];  // what happened while the test looked, not while closing
      await context.close();
      assert.deepEqual(seen, [], seen.join('\n'));
    },
  };
}

// maxHeight: only the top of a long page.
async function shot(page, name, maxHeight = 0) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const opts = { path: path.join(SHOTS, name), fullPage: true };
  if (maxHeight) {
    const h = await page.evaluate(() => document.documentElement.scrollHeight);
    opts.clip = { x: 0, y: 0, width: 1280, height: Math.min(h, maxHeight) };
  }
  await page.screenshot(opts);
}

async function api(method, p, body, headers = {}) {
  const r = await fetch(BASE + p, {
    method,
    headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('an order made with the form is listed and turns terminal; names are shown as text', async () => {
  const { page, check } = await openPage();
  await page.goto(BASE + '/create_order');
  const name = '<script>window.__pwned=1</script>Pikachu';
  await page.fill('#user_id', '1');
  await page.fill('#pokemon', name);
  await page.fill('#country', 'Chile');
  await page.fill('#price', '42.5');
  await shot(page, 'create-order.png');
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.equal(resp.status(), 201);
  await page.waitForSelector('#order');
  const id = Number(await page.getAttribute('#order', 'data-order-id'));
  assert.ok(id > 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.ok((await page.textContent('#order')).includes(name), 'the name is shown as text');
  assert.equal(await page.textContent('#order .state'), 'pending');
  await shot(page, 'order-created.png');

  // The same order through the JSON API: one creation path.
  const got = await api('GET', `/orders/${id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.pokemon, name);
  assert.equal(got.body.price, 42.5);

  // Listed, and finalized by fraud + updater (so it went out through the outbox to Kafka).
  let state = 'pending';
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    await page.goto(BASE + '/list_orders?limit=1000');
    const row = await page.$(`tr[data-order-id="${id}"]`);
    assert.ok(row, `order ${id} is in /list_orders`);
    state = (await row.$eval('.state', (e) => e.textContent)).trim();
    if (state !== 'pending') break;
    await sleep(500);
  }
  assert.equal(state, 'success');
  assert.ok(await page.$(`tr[data-order-id="${id}"] img[src="/static/images/pokeball.png"]`), 'pokeball next to the name');
  const img = await page.$eval('header img', (e) => e.complete && e.naturalWidth > 0);
  assert.ok(img, 'the pokeball image loaded');
  await shot(page, 'list-orders.png');
  await check();
});

test('a bad form comes back as the form with the messages, not JSON', async () => {
  // The re-shown form is answered 422, which Chromium logs; nothing else may be.
  const { page, check } = await openPage([/^Failed to load resource: the server responded with a status of 422/]);
  await page.goto(BASE + '/create_order');
  // Past the browser's own checks (min/max/required), to reach the server's.
  await page.$eval('form', (f) => { f.noValidate = true; });
  await page.fill('#user_id', '1');
  await page.fill('#pokemon', '   ');
  await page.fill('#country', 'Chile');
  await page.fill('#price', '5000000');
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.equal(resp.status(), 422);
  assert.match(resp.headers()['content-type'], /text\/html/);
  const errors = await page.$$eval('.error li', (l) => l.map((e) => e.textContent));
  assert.ok(errors.includes('pokemon: ensure this value is not empty'), errors.join('; '));
  assert.ok(errors.includes('price: ensure this value is less than or equal to 1000000'), errors.join('; '));
  assert.equal(await page.inputValue('#price'), '5000000', 'the form keeps what was typed');
  await shot(page, 'create-order-error.png');
  await check();
});

test('the list pages with Next and Previous and filters by state', async () => {
  for (let i = 0; i < 25; i++) {
    const r = await api('POST', '/orders', { user_id: 2, pokemon: `Eevee ${i}`, country: 'Peru', price: 10 + i });
    assert.equal(r.status, 201);
  }
  const { page, check } = await openPage();
  await page.goto(BASE + '/list_orders?limit=10');
  const ids = async () => page.$$eval('tbody tr', (rows) => rows.map((r) => Number(r.dataset.orderId)));
  const first = await ids();
  assert.equal(first.length, 10);
  assert.equal(await page.$('a[rel=prev]'), null, 'no Previous on the first page');
  await Promise.all([page.waitForNavigation(), page.click('a[rel=next]')]);
  assert.match(page.url(), /skip=10&limit=10/);
  const second = await ids();
  assert.equal(second.length, 10);
  assert.ok(Math.min(...second) > Math.max(...first), 'the second page continues the first');
  await Promise.all([page.waitForNavigation(), page.click('a[rel=prev]')]);
  assert.deepEqual(await ids(), first);
  // The state filter (a plain GET form).
  await page.selectOption('select[name=state]', 'pending');
  await Promise.all([page.waitForNavigation(), page.click('form.filter button')]);
  assert.match(page.url(), /state=pending/);
  const states = await page.$$eval('tbody .state', (l) => l.map((e) => e.textContent));
  assert.ok(states.every((s) => s === 'pending'), states.join(','));
  await check();
});

test('/docs shows Swagger UI and "Try it out" runs a request against this api', async () => {
  const { page, check } = await openPage();
  await page.goto(BASE + '/docs');
  const op = page.locator('#operations-orders-list_orders');
  await op.waitFor();
  await op.locator('.opblock-summary').first().click();
  await op.locator('button.try-out__btn').click();
  await op.locator('button.execute').click();
  const status = op.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 15000 });
  assert.equal((await status.textContent()).trim(), '200');
  const body = await op.locator('.live-responses-table .response-col_description pre').first().textContent();
  assert.ok(Array.isArray(JSON.parse(body)), 'the response body is the list of orders');
  await shot(page, 'docs.png', 1700);
  await check();
});

test('the dashboard charts move while orders flow, and fault windows are shaded', async () => {
  const { page, check } = await openPage();
  await page.goto(BASE + '/dashboard');
  await page.waitForFunction(() => window.pokeflowDashboard && window.pokeflowDashboard.updates >= 2);
  const canvas = () => page.$eval('#chart-orders canvas', (c) => c.toDataURL());
  // A fault window, as the chaos suite marks it.
  const mark = async (phase) => {
    const r = await fetch(`${BASE}/dashboard/marks`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'browser-test fault', phase }),
    });
    assert.equal(r.status, 200);
  };
  // Orders at up to 20 per second for 12 seconds, the window from 3 s to 8 s.
  const before = await canvas();
  const started = Date.now();
  let n = 0;
  let phase = 'before';
  while (Date.now() - started < 12000) {
    const r = await api('POST', '/orders', { user_id: 3, pokemon: 'Snorlax', country: 'Japan', price: 5 });
    assert.equal(r.status, 201);
    n++;
    const t = Date.now() - started;
    if (phase === 'before' && t >= 3000) { await mark('start'); phase = 'during'; }
    if (phase === 'during' && t >= 8000) { await mark('end'); phase = 'after'; }
    await sleep(50);
  }
  assert.equal(phase, 'after');
  await page.waitForFunction(() => {
    const d = window.pokeflowDashboard.data;
    const sum = (a) => a.reduce((s, v) => s + (v || 0), 0);
    return d && sum(d.series.created) > 0 && sum(d.series.finalized.success) > 0 && d.marks.length > 0 &&
      d.marks[0].end !== null && d.series.post_p99_ms.some((v) => v !== null);
  }, null, { timeout: 30000 });
  const after = await canvas();
  assert.notEqual(after, before, 'the orders chart was redrawn with new points');
  // Every order made while the page was open is counted once, in the second it was made.
  const total = () => page.evaluate(() => window.pokeflowDashboard.data.series.created.reduce((s, v) => s + (v || 0), 0));
  await page.waitForFunction((want) => window.pokeflowDashboard.data.series.created.reduce((s, v) => s + (v || 0), 0) >= want,
    n, { timeout: 15000 }).catch(() => {});
  assert.equal(await total(), n, 'orders created per second add up to the orders made');
  const data = await page.evaluate(() => window.pokeflowDashboard.data);
  assert.ok(Object.keys(data.series.lag).length === 2, 'one lag series per consumer group');
  assert.ok(data.series.lag[Object.keys(data.series.lag)[0]].some((v) => v !== null), 'lag read from Kafka');
  assert.ok(data.series.dlq_messages.some((v) => v !== null), 'DLQ size read from Kafka');
  // The status says live, and a later frame differs again (it keeps updating).
  assert.match(await page.textContent('#status'), /live/);
  const u = await page.evaluate(() => window.pokeflowDashboard.updates);
  await page.waitForFunction((x) => window.pokeflowDashboard.updates >= x + 2, u);
  await shot(page, 'dashboard.png');
  await check();
});
