// ctest's entry point for one browser-test file: skips (exit 77, ctest
// SKIP_RETURN_CODE) with a clear message when Chromium is missing, unless
// CI=true, where that is a failure; otherwise runs the file with Node's
// test runner, one test at a time.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const chromium = process.env.HOOKLOG_CHROMIUM ?? '/usr/bin/chromium';
if (!fs.existsSync(chromium)) {
  const msg = `portal browser tests need Chromium at ${chromium} (scripts/setup.sh installs Debian's chromium)`;
  if (process.env.CI === 'true') {
    console.error('FAIL: ' + msg);
    process.exit(1);
  }
  console.log('SKIP: ' + msg);
  process.exit(77);
}
// A test file that finds its webhookd without the routes it tests leaves
// this marker (routes.test.mjs): skipped, not passed.
const marker = path.join(os.tmpdir(), `portal-skip-${process.pid}`);
fs.rmSync(marker, { force: true });
process.env.HOOKLOG_PORTAL_SKIP_FILE = marker;
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
if (r.status === 0 && fs.existsSync(marker)) {
  fs.rmSync(marker);
  console.log('SKIP: this webhookd has no portal routes (GET session/ answers "no such route")');
  process.exit(77);
}
process.exit(r.status ?? 1);
