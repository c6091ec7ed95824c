// ctest's entry point for one browser-test file: skips (exit 77, ctest
// SKIP_RETURN_CODE) with a clear message when Chromium is missing, unless
// CI=true, where that is a failure; otherwise runs the file with Node's
// test runner, one test at a time.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

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
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
