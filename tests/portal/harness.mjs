// What every portal browser test shares: a real webhookd (the built binary)
// on a fresh data directory, a real hooklog-receiver, the API as an
// operator, and headless Chromium (Debian's, through playwright-core; it
// never downloads a browser) with a fresh profile. Paths come from CMake
// (tests/portal/CMakeLists.txt) through the environment.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

export const WEBHOOKD = process.env.HOOKLOG_WEBHOOKD;
export const RECEIVER = process.env.HOOKLOG_RECEIVER;
export const NODE_MODULES = process.env.HOOKLOG_PORTAL_NODE_MODULES;
export const DIST = process.env.HOOKLOG_PORTAL_DIST;
export const SCREENSHOTS = process.env.HOOKLOG_PORTAL_SCREENSHOTS ?? path.join(os.tmpdir(), 'portal-screenshots');
export const CHROMIUM = process.env.HOOKLOG_CHROMIUM ?? '/usr/bin/chromium';
export const API_KEY = 'portal-test-key-0123456789abcdef';
export const BASE = '/integrations/api/v1/webhooks/';

const children = [];
const cleanups = [];

function tmpdir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Starts `bin args` and resolves with the URL of its "... listening on URL"
// line; its stderr goes to a file (never to the test's output).
function startListening(bin, args, name) {
  const logDir = tmpdir(`portal-${name}-log-`);
  cleanups.push(() => fs.rmSync(logDir, { recursive: true, force: true }));
  const err = fs.openSync(path.join(logDir, 'stderr.log'), 'w');
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', err] });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk) => {
      out += chunk.toString();
      const m = /listening on (http\S+)/.exec(out);
      if (m) {
        proc.stdout.off('data', onData);
        proc.off('exit', onExit);
        proc.stdout.resume();
        resolve({ proc, url: m[1], log: path.join(logDir, 'stderr.log') });
      }
    };
    proc.stdout.on('data', onData);
    const onExit = (code) => {
      const log = fs.readFileSync(path.join(logDir, 'stderr.log'), 'utf8');
      reject(new Error(`${name} exited with ${code} before listening:\n${out}\n${log}`));
    };
    proc.once('exit', onExit);
  });
}

export async function startWebhookd(extra = []) {
  assert.ok(WEBHOOKD, 'HOOKLOG_WEBHOOKD is not set (run through ctest)');
  const data = tmpdir('portal-webhookd-data-');
  cleanups.push(() => fs.rmSync(data, { recursive: true, force: true }));
  const w = await startListening(
    WEBHOOKD,
    [
      '--listen', '127.0.0.1:0', '--data-dir', data, '--api-key', API_KEY,
      '--allow-private-targets', '--retry-schedule', '0s,100ms,200ms',
      '--attempt-timeout', '5s', '--log-level', 'warn', ...extra,
    ],
    'webhookd',
  );
  return { ...w, api: new Api(w.url) };
}

export async function startReceiver(extra = []) {
  assert.ok(RECEIVER, 'HOOKLOG_RECEIVER is not set (run through ctest)');
  return startListening(RECEIVER, ['--address', '127.0.0.1', '--port', '0', '--quiet', ...extra], 'receiver');
}

// The REST API as an operator (or with other headers).
export class Api {
  constructor(url, headers = { 'X-API-Key': API_KEY }) {
    this.url = url;
    this.headers = headers;
  }
  as(headers) {
    return new Api(this.url, headers);
  }
  async raw(method, p, body) {
    const res = await fetch(this.url + (p.startsWith('/') ? p : BASE + p), {
      method,
      headers: { ...this.headers, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, json, text, headers: res.headers };
  }
  async ok(method, p, body) {
    const r = await this.raw(method, p, body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${p}: ${r.status} ${r.text}`);
    return r.json;
  }
  get(p) {
    return this.ok('GET', p);
  }
  post(p, body) {
    return this.ok('POST', p, body);
  }
  // Polls until fn() is truthy (at most `tries` times, 100 ms apart): the
  // engine works asynchronously, so tests wait for states, never for times.
  async until(fn, what, tries = 300) {
    for (let i = 0; i < tries; i++) {
      const v = await fn();
      if (v) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('timed out waiting for ' + what);
  }
}

// The portal's URL: webhookd serves it at /ui/ (webhookd/portal_assets.h).
export async function portalUrl(w) {
  const r = await fetch(w.url + '/ui/');
  const body = await r.text();
  if (r.status !== 200) throw new Error(`GET /ui/ answered ${r.status}: ${body}`);
  return w.url + '/ui/';
}

// One Chromium per test file, with a fresh profile.
export async function launchBrowser() {
  const require = createRequire(path.join(NODE_MODULES, 'noop.js'));
  const { chromium } = require('playwright-core');
  const profile = tmpdir('portal-chromium-');
  cleanups.push(() => fs.rmSync(profile, { recursive: true, force: true }));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  cleanups.push(() => ctx.close());
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write']).catch(() => {});
  return ctx;
}

// A new tab that records console errors and uncaught exceptions.
// `allow` lists regexes for errors a test provokes on purpose (Chromium
// logs every 4xx answer to fetch as "Failed to load resource").
export async function newPage(ctx) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.consoleErrors = [];
  page.allowErrors = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = `${m.text()} (${m.location()?.url ?? ''})`;
    if (page.allowErrors.some((re) => re.test(text))) return;
    page.consoleErrors.push(text);
  });
  page.on('pageerror', (e) => page.consoleErrors.push('pageerror: ' + e.message));
  return page;
}

export function assertNoConsoleErrors(page) {
  assert.deepEqual(page.consoleErrors, [], 'console errors on ' + page.url());
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name + '.png'), fullPage: true });
}

export async function signIn(page, ui, key = API_KEY) {
  await page.goto(ui);
  await page.fill('input[name=api_key]', key);
  await page.press('input[name=api_key]', 'Enter');
}

export async function noHorizontalScroll(page) {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  const vw = page.viewportSize().width;
  assert.ok(w <= vw, `${page.url()}: scrollWidth ${w} > ${vw}`);
}

export async function stopAll() {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {}
  }
  cleanups.length = 0;
  for (const p of children) {
    if (p.exitCode === null) {
      p.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          p.kill('SIGKILL');
          r();
        }, 10000);
        p.on('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  children.length = 0;
}
