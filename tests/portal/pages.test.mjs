// The portal's pages over the routes webhookd has always had: sign-in (and
// a wrong key), endpoints (create, validation error, edit, disable/enable,
// rotate secret, send test, delete), deliveries (filters in the hash,
// cursor pages), delivery detail and single replay, keyboard use, a 390 px
// screen, and no console errors anywhere. One Chromium, tests in sequence.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_KEY, assertNoConsoleErrors, launchBrowser, newPage, noHorizontalScroll,
  portalUrl, screenshot, signIn, startReceiver, startWebhookd, stopAll,
} from './harness.mjs';

let w, rx, ui, ctx, api, page;

before(async () => {
  rx = await startReceiver();
  w = await startWebhookd();
  api = w.api;
  ui = await portalUrl(w);
  ctx = await launchBrowser();
});
after(stopAll);
afterEach(async () => {
  if (page) {
    assertNoConsoleErrors(page);
    await page.close();
    page = null;
  }
});

async function open() {
  page = await newPage(ctx);
  return page;
}

async function signedIn() {
  await open();
  await signIn(page, ui);
  await page.waitForSelector('header nav');
  return page;
}

test('GET /ui/ serves the embedded bundle under the strict CSP', async () => {
  const r = await fetch(ui);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  const csp = r.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'/);
  const html = await r.text();
  assert.match(html, /<script src="app\.js" defer><\/script>/);
  assert.doesNotMatch(html, /style=/, 'no inline style attributes');
  assert.doesNotMatch(html, /<script>(?!<)/, 'no inline scripts');
  for (const f of ['app.js', 'app.css']) {
    assert.equal((await fetch(new URL(f, ui))).status, 200, f);
  }
});

test('a wrong key shows the API error; the right key signs in; sign-out clears it', async () => {
  await open();
  page.allowErrors.push(/status of 401/);
  await signIn(page, ui, 'not-the-key-0123456789');
  const alert = page.locator('[role=alert]');
  await alert.waitFor();
  assert.match(await alert.textContent(), /invalid X-API-Key|missing or invalid/i);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await screenshot(page, 'signin-wrong-key');

  await page.fill('input[name=api_key]', API_KEY);
  await page.click('button[type=submit]');
  await page.waitForSelector('header nav');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('hooklog.api_key')), API_KEY);
  // A reload stays signed in (sessionStorage), on the same page.
  await page.goto(ui + '#/endpoints');
  await page.reload();
  await page.waitForSelector('#endpoints-title');
  await page.click('text=Sign out');
  await page.waitForSelector('input[name=api_key]');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test('endpoints: create, a 422 naming the field, edit, disable/enable, send test, rotate, delete', async () => {
  await signedIn();
  await page.goto(ui + '#/endpoints');
  await page.waitForSelector('#endpoints-title');

  // A bad event type: the API's 422 names the field and nothing is created.
  await page.click('text=New endpoint');
  await page.fill('#ep-url', rx.url + '/hooks');
  await page.fill('#ep-types', 'bad type!');
  page.allowErrors.push(/status of 422/);
  await page.click('button:has-text("Create endpoint")');
  const err = page.locator('dialog [role=alert]');
  await err.waitFor();
  assert.match(await err.textContent(), /event_types/);
  assert.equal((await api.get('endpoints/')).data.length, 0);

  await page.fill('#ep-types', 'order.*, invoice.paid');
  await page.fill('#ep-description', 'browser-made');
  await page.fill('#ep-headers', 'X-Team: portal');
  await page.fill('#ep-metadata', 'customer=acme');
  await page.click('button:has-text("Create endpoint")');
  const secret = (await page.locator('[data-testid=secret]').textContent()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
  await screenshot(page, 'endpoint-created');
  await page.click('dialog >> text=Done');
  const [ep] = (await api.get('endpoints/')).data;
  assert.equal(ep.url, rx.url + '/hooks');
  assert.deepEqual(ep.event_types, ['order.*', 'invoice.paid']);
  assert.deepEqual(ep.headers, { 'X-Team': 'portal' });
  assert.deepEqual(ep.metadata, { customer: 'acme' });
  assert.equal(ep.signing_secret.slice(-4), secret.slice(-4));

  // Edit: description, rate limit, FIFO.
  const row = page.locator(`tr[data-endpoint="${ep.id}"]`);
  await row.locator('text=Edit').click();
  await page.fill('#ep-description', 'edited in the portal');
  await page.fill('#ep-rate', '5');
  await page.check('input[name=fifo]');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('dialog', { state: 'detached' });
  let now = await api.get(`endpoints/${ep.id}/`);
  assert.equal(now.description, 'edited in the portal');
  assert.equal(now.rate_limit_per_s, 5);
  assert.equal(now.fifo, true);
  assert.deepEqual(now.metadata, { customer: 'acme' });

  // Disable, then enable.
  await row.locator('button:has-text("Disable")').click();
  await row.locator('button:has-text("Enable")').waitFor();
  assert.match(await row.locator('[data-testid=state]').textContent(), /disabled: manual/);
  assert.equal((await api.get(`endpoints/${ep.id}/`)).is_active, false);
  await row.locator('button:has-text("Enable")').click();
  await row.locator('button:has-text("Disable")').waitFor();
  assert.equal((await api.get(`endpoints/${ep.id}/`)).is_active, true);

  // Send test: the DeliveryResult of the seed.
  await row.locator('text=Send test').click();
  await page.click('dialog >> button:has-text("Send test")');
  await page.waitForSelector('[data-testid=test-result]');
  assert.match(await page.locator('[data-testid=test-status]').textContent(), /delivered/);
  assert.equal((await page.locator('[data-testid=test-http]').textContent()).trim(), '200');
  await screenshot(page, 'endpoint-send-test');
  await page.click('dialog >> text=Close');

  // Rotate: the new secret once, the API masks it to its last 4.
  await row.locator('text=Rotate secret').click();
  await page.click('dialog >> button:has-text("Rotate")');
  const rotated = (await page.locator('[data-testid=secret]').textContent()).trim();
  assert.notEqual(rotated, secret);
  now = await api.get(`endpoints/${ep.id}/`);
  assert.equal(now.signing_secret.slice(-4), rotated.slice(-4));
  await page.click('dialog >> text=Done');
  await screenshot(page, 'endpoints');

  // Delete, after a confirmation that names the endpoint; Cancel first.
  const victim = await api.post('endpoints/', { url: rx.url + '/victim' });
  await page.click('text=Refresh');
  const vrow = page.locator(`tr[data-endpoint="${victim.id}"]`);
  await vrow.locator('text=Delete').click();
  assert.match(await page.locator('dialog').textContent(), /\/victim/);
  await page.click('dialog >> text=Cancel');
  assert.equal((await api.raw('GET', `endpoints/${victim.id}/`)).status, 200);
  await vrow.locator('text=Delete').click();
  await page.click('dialog >> button.danger');
  await vrow.waitFor({ state: 'detached' });
  assert.equal((await api.raw('GET', `endpoints/${victim.id}/`)).status, 404);
});

let liveEp, deadEp, deadDelivery;

test('deliveries: filters live in the hash, rows equal the API list, cursor pages', async () => {
  liveEp = (await api.get('endpoints/')).data[0];
  deadEp = await api.post('endpoints/', { url: 'http://127.0.0.1:9/refused', event_types: ['invoice.paid'] });
  for (let i = 0; i < 55; i++) await api.post('events/', { type: 'order.created', data: { n: i } });
  const pub = await api.post('events/', { type: 'invoice.paid', data: { invoice: 7 } });
  assert.equal(pub.deliveries.length, 2);
  await api.until(async () => {
    const d = await api.get('deliveries/?status=dead_letter&endpoint_id=' + deadEp.id);
    return d.data.length === 1;
  }, 'the dead letter');
  await api.until(async () => {
    const d = await api.get('deliveries/?status=pending&page_size=1');
    return d.pagination.total_count === 0;
  }, 'no pending deliveries');

  await signedIn();
  await page.goto(ui + '#/deliveries');
  await page.waitForSelector('[data-testid=deliveries] tbody tr[data-delivery]');
  assert.equal(await page.locator('tr[data-delivery]').count(), 50);
  await page.click('.pager >> text=Next');
  await page.waitForSelector('[data-testid=page-no]:has-text("page 2")');
  const all = (await api.get('deliveries/?page_size=50')).pagination.total_count;
  assert.equal(await page.locator('tr[data-delivery]').count(), all - 50);
  await page.click('.pager >> text=Previous');
  await page.waitForSelector('[data-testid=page-no]:has-text("page 1")');

  // Filter by event type and status through the form.
  await page.fill('input[name=event_type]', 'invoice.paid');
  await page.selectOption('select[name=status]', 'dead_letter');
  await page.click('text=Apply');
  await page.waitForFunction(() => location.hash.includes('event_type=invoice.paid'));
  assert.match(await page.evaluate(() => location.hash), /status=dead_letter/);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-delivery]').length === 1);
  const apiRows = (await api.get('deliveries/?event_type=invoice.paid&status=dead_letter')).data;
  assert.equal(await page.locator('tr[data-delivery]').getAttribute('data-delivery'), apiRows[0].id);
  deadDelivery = apiRows[0].id;

  // A reload keeps the filter (it is in the hash) and the form shows it.
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('tr[data-delivery]').length === 1);
  assert.equal(await page.inputValue('input[name=event_type]'), 'invoice.paid');
  assert.equal(await page.inputValue('select[name=status]'), 'dead_letter');

  // Refresh and auto-refresh keep the filter.
  await page.click('.toolbar >> text=Refresh');
  await page.check('input[name=auto_refresh]');
  assert.equal(await page.locator('tr[data-delivery]').count(), 1);
  await screenshot(page, 'deliveries-filtered');

  // Endpoint filter and a time range that excludes everything.
  await page.goto(ui + '#/deliveries?endpoint_id=' + liveEp.id);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-delivery]').length === 50);
  await page.goto(ui + '#/deliveries?created_before=2020-01-01T00:00:00Z');
  await page.waitForSelector('text=No deliveries match.');
});

test('delivery detail: the attempt timeline, and Replay of a dead letter shows the new delivery', async () => {
  await signedIn();
  await page.goto(ui + '#/deliveries/' + deadDelivery);
  await page.waitForSelector('[data-testid=attempts] li');
  const d = await api.get(`deliveries/${deadDelivery}/`);
  assert.equal(await page.locator('[data-testid=attempts] li').count(), d.attempts_log.length);
  assert.equal(d.attempts_log.length, 3);
  assert.match(await page.locator('[data-testid=attempt-outcome]').first().textContent(), /connect/);
  assert.match(await page.locator('[data-testid=delivery-status]').textContent(), /dead_letter/);
  await screenshot(page, 'delivery-dead-letter');

  // Point the endpoint at the receiver, then replay from the page.
  await api.ok('PATCH', `endpoints/${deadEp.id}/`, { url: rx.url + '/fixed' });
  await page.click('button:has-text("Replay")');
  await page.waitForSelector('[data-testid=replay-result]');
  const newId = (await page.locator('[data-testid=replay-link]').textContent()).trim();
  const replayed = await api.get(`deliveries/${newId}/`);
  assert.equal(replayed.replay_of, deadDelivery);
  assert.match(await page.locator('[data-testid=replay-result]').textContent(), /delivered/);

  // The new delivery's page: delivered with HTTP 200, linked to the original.
  await page.click('[data-testid=replay-link]');
  await page.waitForSelector(`#delivery-title:has-text("${newId}")`);
  await page.waitForSelector('[data-testid=attempt-outcome]');
  assert.match(await page.locator('[data-testid=attempt-outcome]').first().textContent(), /HTTP 200/);
  assert.match(await page.locator('[data-testid=delivery-facts]').textContent(), new RegExp(deadDelivery));
  await screenshot(page, 'delivery-detail');
});

test('keyboard: Tab reaches the sign-in field, Enter submits, Escape closes a dialog', async () => {
  await open();
  await page.goto(ui);
  await page.waitForSelector('input[name=api_key]');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'api_key');
  await page.keyboard.type(API_KEY);
  await page.keyboard.press('Enter');
  await page.waitForSelector('header nav');
  // Tab order: the page links come first, in order, then sign-out.
  const order = [];
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement?.textContent?.trim()));
  }
  assert.deepEqual(order.slice(0, 3), ['Overview', 'Endpoints', 'Deliveries']);
  assert.ok(order.includes('Sign out'), order.join(','));
  // Enter on a focused link navigates; a focused button opens a dialog.
  await page.goto(ui + '#/endpoints');
  await page.waitForSelector('#endpoints-title');
  await page.focus('button:has-text("New endpoint")');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open]');
  // The dialog takes the focus; Escape closes it.
  assert.ok(await page.evaluate(() => document.querySelector('dialog')?.contains(document.activeElement)));
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'detached' });
  // Focus is visible: the focused button gets an outline.
  await page.focus('button:has-text("New endpoint")');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.equal(outline, 'solid');
});

test('390 px wide: no page scrolls sideways; screenshots of each page', async () => {
  await signedIn();
  await page.setViewportSize({ width: 390, height: 844 });
  const pages = {
    endpoints: ['#/endpoints', '[data-testid=endpoints]'],
    deliveries: ['#/deliveries', 'tr[data-delivery]'],
    delivery: ['#/deliveries/' + deadDelivery, '[data-testid=attempts] li'],
  };
  for (const [name, [hash, sel]] of Object.entries(pages)) {
    await page.goto(ui + hash);
    await page.waitForSelector(sel);
    await noHorizontalScroll(page);
    await screenshot(page, 'narrow-' + name);
  }
  await page.goto(ui + '#/endpoints');
  await page.click('text=New endpoint');
  await page.waitForSelector('dialog[open]');
  await noHorizontalScroll(page);
  await screenshot(page, 'narrow-endpoint-form');
  await page.keyboard.press('Escape');
  await page.click('text=Sign out');
  await page.waitForSelector('input[name=api_key]');
  await noHorizontalScroll(page);
  await screenshot(page, 'narrow-signin');
});
