// tests/browser/chromium.mjs - Debian's Chromium for the browser tests (watch_page.mjs,
// play_hls.mjs), driven by playwright-core with no downloaded browser: where it is
// ($CHROMIUM or /usr/bin/chromium), the flags of a headless test run, and the launch (a new,
// empty profile directory of its own, given by playwright). Exits 2 when Chromium is missing.

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium with the test flags and `extraFlags`. */
export async function launchChromium(extraFlags = []) {
  if (!existsSync(CHROMIUM)) {
    console.error(`${CHROMIUM} not found: install Debian's chromium (.ci/run does)`);
    process.exit(2);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, ...extraFlags], timeout: 30_000 });
}
