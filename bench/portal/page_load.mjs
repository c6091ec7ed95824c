// Chromium page loads of each portal page (bench/portal/run.sh): signed in
// through sessionStorage, from navigation to the page's content shown
// (its data loaded and rendered), median of 3, as a Markdown table.
//   node page_load.mjs URL KEY NODE_MODULES DIST
// (the pages come from webhookd's /ui/; DIST is passed on to the browser
// tests' harness, tests/portal/harness.mjs).
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const [url, key, modules, dist] = process.argv.slice(2);
process.env.HOOKLOG_PORTAL_DIST = dist;
const harness = await import('../../tests/portal/harness.mjs');
const require = createRequire(path.join(modules, 'noop.js'));
const { chromium } = require('playwright-core');
const base = url + '/integrations/api/v1/webhooks/';
const first = await (await fetch(base + 'deliveries/?page_size=1&count=false', { headers: { 'X-API-Key': key } })).json();
const d = first.data[0];
const ui = await harness.portalUrl({ url });
const pages = [
  ['overview (hour)', '#/overview', '[data-testid=counts], [role=alert]'],
  ['overview (week)', '#/overview?range=week', '[data-testid=counts], [role=alert]'],
  ['endpoints', '#/endpoints', 'tr[data-endpoint]'],
  ['deliveries', '#/deliveries', 'tr[data-delivery]'],
  ['deliveries, status=delivered', '#/deliveries?status=delivered', 'tr[data-delivery]'],
  ['delivery detail', '#/deliveries/' + d.id, '[data-testid=attempts] li'],
];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'portal-bench-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.HOOKLOG_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
await ctx.addInitScript((k) => sessionStorage.setItem('hooklog.api_key', k), key);
console.log('| page (Chromium, signed in) | median ms | min–max ms |');
console.log('| --- | ---: | ---: |');
try {
  for (const [name, hash, sel] of pages) {
    const times = [];
    for (let i = 0; i < 3; i++) {
      const page = await ctx.newPage();
      const t0 = performance.now();
      await page.goto(ui + hash);
      await page.waitForSelector(sel, { timeout: 120000 });
      times.push(performance.now() - t0);
      await page.close();
    }
    times.sort((a, b) => a - b);
    console.log(`| ${name} | ${times[1].toFixed(0)} | ${times[0].toFixed(0)}–${times[2].toFixed(0)} |`);
  }
} finally {
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
  await harness.stopAll();
}
