#!/usr/bin/env node
// node tests/browser/watch_page.mjs URL SCREENSHOT_PATH
//
// Opens the streamrouter watch page at URL in Debian's Chromium (driven by playwright-core,
// no downloaded browser) and checks that it works for real:
//   - the first <video> plays: its currentTime advances by more than 4.5 s from where playback
//     started (more than two 2-second segment boundaries) and never goes back;
//   - no `error` event on the video, no fatal hls.js error (window.__playerErrors stays empty),
//     no uncaught exception in the page;
//   - the status table (#nodes) has rows and every node in it is `live`, and the page keeps
//     polling /status.
// Saves a screenshot to SCREENSHOT_PATH, prints one JSON object, exits 0 when every check
// passed and 1 otherwise.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { launchChromium, summarizePlayback } from './chromium.mjs';

const PLAY_SECONDS = 4.5; // two segment boundaries of the quickstart's 2-second segments
const PLAY_TIMEOUT_MS = 45_000;
const TABLE_TIMEOUT_MS = 20_000;

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node watch_page.mjs URL SCREENSHOT_PATH');
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const result = { ok: false, url, screenshot, failures: [] };
const fail = (message) => result.failures.push(message);

// Playwright gives the browser a new, empty profile directory (--user-data-dir) of its own.
const browser = await launchChromium();
let page = null;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = [];
  const consoleErrors = [];
  let statusRequests = 0;
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('/status')) statusRequests += 1;
  });

  const response = await page.goto(url, { waitUntil: 'load', timeout: 15_000 });
  result.httpStatus = response ? response.status() : null;
  result.title = await page.title();
  if (result.title !== 'streamrouter') fail(`page title is ${JSON.stringify(result.title)}`);

  const video = await page.waitForSelector('video[data-playlist]', { timeout: 15_000 });
  result.playlist = await video.getAttribute('data-playlist');
  result.player = await video.getAttribute('data-player');

  // Sample the video until it has played PLAY_SECONDS past where it started.
  const samples = [];
  let start = null;
  const deadline = Date.now() + PLAY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const sample = await video.evaluate((v) => ({
      t: v.currentTime,
      paused: v.paused,
      readyState: v.readyState,
      error: v.error ? v.error.code : null,
    }));
    samples.push(sample);
    if (start === null && sample.t > 0 && !sample.paused) start = sample.t;
    if (start !== null && sample.t - start > PLAY_SECONDS) break;
    await sleep(250);
  }
  const summary = summarizePlayback(samples, start, PLAY_SECONDS, PLAY_TIMEOUT_MS);
  result.playback = summary.playback;
  summary.failures.forEach(fail);

  // Still advancing after the checks above: playing, not stuck on the last frame.
  const before = await video.evaluate((v) => v.currentTime);
  await sleep(1000);
  const after = await video.evaluate((v) => v.currentTime);
  result.playback.stillAdvancing = after - before;
  if (!(after > before)) fail(`currentTime stopped at ${after}`);

  // The status table: rows, all live (the page refreshes it every 2 s; a node may still be
  // starting when the page first loads).
  const tableDeadline = Date.now() + TABLE_TIMEOUT_MS;
  let rows = [];
  for (;;) {
    rows = await page.$$eval('#nodes tbody tr', (trs) =>
      trs.map((tr) => ({
        node: tr.cells[0].textContent,
        kind: tr.cells[1].textContent,
        state: tr.cells[2].textContent,
        lastError: tr.cells[4].textContent,
      })),
    );
    if (rows.length > 0 && rows.every((row) => row.state === 'live')) break;
    if (Date.now() > tableDeadline) break;
    await sleep(500);
  }
  result.nodes = rows;
  if (rows.length === 0) fail('the status table (#nodes tbody) has no rows');
  const notLive = rows.filter((row) => row.state !== 'live');
  if (notLive.length > 0) {
    fail(`nodes not live: ${notLive.map((row) => `${row.node}=${row.state}`).join(', ')}`);
  }
  result.generation = await page.textContent('#generation');
  result.statusRequests = statusRequests;
  if (statusRequests < 2) fail(`the page fetched /status ${statusRequests} time(s); it should poll`);

  result.playerErrors = await page.evaluate(() => window.__playerErrors);
  if (!Array.isArray(result.playerErrors)) fail('window.__playerErrors is missing');
  else if (result.playerErrors.length > 0) fail(`player errors: ${JSON.stringify(result.playerErrors)}`);
  result.pageErrors = pageErrors;
  if (pageErrors.length > 0) fail(`uncaught errors in the page: ${pageErrors.join('; ')}`);
  result.consoleErrors = consoleErrors;
} catch (error) {
  fail(`${error.name}: ${error.message}`);
} finally {
  // The screenshot also when a check failed: it shows what the page showed.
  if (page) {
    try {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
    } catch (error) {
      fail(`screenshot: ${error.message}`);
    }
  }
  await browser.close();
}

result.ok = result.failures.length === 0;
console.log(JSON.stringify(result, null, 2));
process.exit(result.ok ? 0 : 1);
