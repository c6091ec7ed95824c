// The portal's pages over the portal's own routes (docs/portal.md):
// session/, the overview (stats/, stats/endpoints/) whose numbers must equal
// the API's, bulk replay of dead letters to completion (deliveries/replay/,
// replay-jobs/), the delivery's request and message (events/), portal links
// and what a tenant signed in through one sees (and may not do). One
// Chromium, tests in sequence.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertNoConsoleErrors, launchBrowser, newPage, noHorizontalScroll, portalUrl,
  screenshot, signIn, startReceiver, startWebhookd, stopAll,
} from './harness.mjs';

let w, rx, ui, ctx, api, page;
let acme, other, acmeDeliveries = [];

before(async () => {
  rx = await startReceiver();
  w = await startWebhookd();
  api = w.api;
  ui = await portalUrl(w);
  ctx = await launchBrowser();

  // Two customers: acme's endpoint answers 200; other's refuses
  // connections, so its deliveries end as dead letters (its breaker off, so
  // that they do not wait out an open circuit).
  acme = await api.post('endpoints/', { url: rx.url + '/acme', metadata: { customer: 'acme' }, event_types: ['order.*'] });
  other = await api.post('endpoints/', {
    url: 'http://127.0.0.1:9/refused',
    metadata: { customer: 'other' },
    event_types: ['invoice.*'],
    circuit_breaker: { enabled: false },
  });
  for (let i = 0; i < 12; i++) {
    const r = await api.post('events/', { type: 'order.created', data: { order: 1000 + i, note: 'ü' } });
    acmeDeliveries.push(r.deliveries[0]);
  }
  for (let i = 0; i < 4; i++) await api.post('events/', { type: 'invoice.paid', data: { invoice: i } });
  await api.until(async () => {
    const st = await api.get('stats/');
    const c = st.counts;
    return c.pending + c.failed + c.rate_limited === 0 && c.delivered === 12 && c.dead_letter === 4;
  }, 'all deliveries ended');
});
after(stopAll);
afterEach(async () => {
  if (page) {
    assertNoConsoleErrors(page);
    await page.close();
    page = null;
  }
});

async function operatorPage() {
  page = await newPage(ctx);
  await signIn(page, ui);
  await page.waitForSelector('header nav');
  return page;
}

test('session/: an operator sees every page', async (t) => {
  assert.deepEqual(await api.get('session/'), { kind: 'operator', metadata: null, expires_at: null });
  await operatorPage();
  const nav = await page.locator('header nav a').allTextContents();
  assert.deepEqual(nav, ['Overview', 'Endpoints', 'Deliveries', 'Portal links']);
});

test('overview: counts, success rate, latency and the failing endpoints equal the API', async (t) => {
  await operatorPage();
  await page.goto(ui + '#/overview');
  await page.waitForSelector('[data-testid=counts]');
  const stats = await api.get('stats/');
  for (const s of ['pending', 'delivered', 'failed', 'rate_limited', 'dead_letter']) {
    assert.equal(await page.locator(`[data-testid=count-${s}]`).textContent(), String(stats.counts[s]), s);
  }
  assert.equal(stats.counts.delivered, 12);
  assert.equal(stats.counts.dead_letter, 4);
  const rate = stats.total.success_rate;
  assert.equal(await page.locator('[data-testid=success-rate]').textContent(), (rate * 100).toFixed(1) + '%');
  assert.equal(await page.locator('[data-testid=total-attempts]').textContent(), String(stats.total.attempts));
  // Both charts drew (uPlot: a canvas each), with no CSP complaint.
  assert.equal(await page.locator('.chart-box canvas').count(), 2);
  // The failing-most endpoint first, with its circuit state.
  const top = (await api.get('stats/endpoints/?limit=10')).data;
  assert.equal(top[0].endpoint_id, other.id);
  const first = page.locator('[data-testid=top-endpoints] tbody tr').first();
  assert.equal(await first.getAttribute('data-endpoint'), other.id);
  assert.match(await first.textContent(), new RegExp(top[0].circuit_state));
  await screenshot(page, 'overview');

  // Last day: 15-minute buckets, the same totals.
  await page.selectOption('select[name=range]', 'day');
  await page.waitForFunction(() => location.hash.includes('range=day'));
  await page.waitForSelector('figcaption:has-text("Outcomes per 15m")');
  assert.equal(await page.locator('[data-testid=count-delivered]').textContent(), '12');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.waitForSelector('.chart-box canvas');
  await noHorizontalScroll(page);
  await screenshot(page, 'narrow-overview');
});

test('delivery detail: the request sent and the message with all its deliveries', async (t) => {
  await operatorPage();
  const id = acmeDeliveries[0];
  await page.goto(ui + '#/deliveries/' + id);
  await page.waitForSelector('[data-testid=request]');
  const d = await api.get(`deliveries/${id}/`);
  const text = await page.locator('[data-testid=request]').textContent();
  assert.match(text, new RegExp('POST ' + d.request.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  for (const h of d.request.header_names) assert.ok(text.includes(h), h);
  assert.equal(
    await page.locator('[data-testid=request-body]').textContent(),
    JSON.stringify(JSON.parse(d.request.body), null, 2),
  );
  await page.waitForSelector('[data-testid=event-deliveries] tbody tr');
  const ev = await api.get(`events/${d.event_id}/`);
  assert.equal(await page.locator('[data-testid=event-deliveries] tbody tr').count(), ev.deliveries.length);
  assert.equal(await page.locator('[data-testid=event-data]').textContent(), JSON.stringify(ev.data, null, 2));
  await screenshot(page, 'delivery-request');
});

test('bulk replay: "Replay all N" confirms N, then a progress bar runs to done', async (t) => {
  await api.ok('PATCH', `endpoints/${other.id}/`, { url: rx.url + '/other-fixed' });
  await operatorPage();
  await page.goto(ui + '#/deliveries?status=dead_letter&endpoint_id=' + other.id);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-delivery]').length === 4);
  await page.click('text=Replay all…');
  await page.waitForSelector('[data-testid=bulk-count]');
  const n = (await api.get(`deliveries/?status=dead_letter&endpoint_id=${other.id}&page_size=1`)).pagination
    .total_count;
  assert.equal(await page.locator('[data-testid=bulk-count]').textContent(), String(n));
  assert.equal(n, 4);
  await page.click(`dialog >> button:has-text("Replay ${n}")`);
  await page.waitForSelector('[data-testid=bulk-progress] progress');
  await page.waitForSelector('[data-testid=bulk-status]:has-text("done")', { timeout: 60000 });
  assert.equal(await page.locator('[data-testid=bulk-replayed]').textContent(), String(n));
  const jobs = (await api.get('replay-jobs/')).data;
  assert.equal(jobs[0].status, 'done');
  assert.equal(jobs[0].replayed, n);
  assert.deepEqual(jobs[0].filter.endpoint_ids, [other.id]);
  await screenshot(page, 'bulk-replay-done');
  await page.click('dialog >> text=Close');
  // The replays are new deliveries, delivered by the fixed URL.
  await api.until(async () => {
    const r = await api.get(`deliveries/?endpoint_id=${other.id}&status=delivered`);
    return r.data.length === n && r.data.every((x) => x.replay_of);
  }, 'the replays delivered');
});

test('portal links: an operator makes one; the tenant sees only its endpoints and is refused elsewhere', async (t) => {
  await operatorPage();
  await page.goto(ui + '#/links');
  await page.fill('#mk0', 'customer');
  await page.fill('#mv0', 'acme');
  await page.fill('#ttl', '2h');
  await page.press('#ttl', 'Enter');
  await page.waitForSelector('[data-testid=link-url]');
  const url = await page.inputValue('[data-testid=link-url]');
  assert.match(url, /\/ui\/#token=/);
  await screenshot(page, 'portal-link');
  // A bad ttl: the API's 422 names the field.
  page.allowErrors.push(/status of 422/);
  await page.fill('#ttl', '99d');
  await page.press('#ttl', 'Enter');
  assert.match(await page.locator('[role=alert]').textContent(), /ttl/);
  await page.close();
  page = null;

  const token = decodeURIComponent(url.split('#token=')[1]);
  const tenant = api.as({ Authorization: 'Bearer ' + token });
  // The link as the tenant opens it (same origin as the portal under test).
  page = await newPage(ctx);
  await page.goto(ui + '#token=' + encodeURIComponent(token));
  await page.waitForSelector('header nav');
  assert.doesNotMatch(await page.evaluate(() => location.href), /token=/);
  assert.match(await page.locator('[data-testid=who]').textContent(), /tenant customer=acme/);
  assert.deepEqual(await page.locator('header nav a').allTextContents(), ['Overview', 'Endpoints', 'Deliveries']);
  await page.waitForSelector('[data-testid=count-delivered]');
  const st = await tenant.get('stats/');
  assert.equal(await page.locator('[data-testid=count-delivered]').textContent(), String(st.counts.delivered));
  assert.equal(st.counts.delivered, 12);

  await page.goto(ui + '#/endpoints');
  await page.waitForSelector('tr[data-endpoint]');
  const rows = await page.locator('tr[data-endpoint]').evaluateAll((r) => r.map((x) => x.dataset.endpoint));
  assert.deepEqual(rows, [acme.id]);
  await page.goto(ui + '#/deliveries');
  await page.waitForSelector('tr[data-delivery]');
  assert.equal(await page.locator('button:has-text("Publish event")').count(), 0);
  const eps = await page.locator('tr[data-delivery] td.url').allTextContents();
  assert.ok(eps.length > 0 && eps.every((u) => u.endsWith('/acme')), eps.join(','));
  await page.setViewportSize({ width: 390, height: 844 });
  await noHorizontalScroll(page);
  await screenshot(page, 'tenant-deliveries');

  // Through the API the token is scoped: other's endpoint does not exist for
  // it, publishing and portal links are forbidden, /metrics is operators'.
  assert.equal((await tenant.raw('GET', `endpoints/${other.id}/`)).status, 404);
  assert.equal((await tenant.raw('GET', `deliveries/?endpoint_id=${other.id}`)).status, 404);
  assert.equal((await tenant.raw('POST', 'events/', { type: 'order.created', data: {} })).status, 403);
  assert.equal((await tenant.raw('POST', 'portal-links/', { metadata: { customer: 'x' } })).status, 403);
  assert.equal((await tenant.raw('GET', '/metrics')).status, 401);
  assert.equal((await tenant.raw('GET', `endpoints/${acme.id}/`)).status, 200);
  // A token with a changed signature is refused.
  const forged = api.as({ Authorization: 'Bearer ' + token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA') });
  assert.equal((await forged.raw('GET', 'session/')).status, 401);

  await page.click('text=Sign out');
  await page.waitForSelector('input[name=api_key]');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test('390 px: portal links page; an expired or forged link lands on sign-in with the reason', async (t) => {
  await operatorPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(ui + '#/links');
  await page.waitForSelector('#links-title');
  await noHorizontalScroll(page);
  await screenshot(page, 'narrow-links');
  await page.close();
  page = await newPage(ctx);
  page.allowErrors.push(/status of 401/);
  await page.goto(ui + '#token=not.a-token');
  await page.waitForSelector('input[name=api_key]');
  assert.ok((await page.locator('[role=alert]').textContent()).length > 0);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});
