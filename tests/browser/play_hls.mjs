#!/usr/bin/env node
// node tests/browser/play_hls.mjs HLS_MIN_JS SPEC_JSON
//
// Plays HLS playlists with hls.js in Debian's Chromium (driven by playwright-core, no downloaded
// browser), one page per playlist, and checks that each plays for real:
//   - the <video> plays: its currentTime advances by more than PLAY_SECONDS from where playback
//     started and never goes back; no `error` event on the video, no fatal hls.js error, no
//     uncaught exception in the page;
//   - hls.js reads the playlist as the spec says: `vod: true` wants a VOD playlist (not live,
//     EXT-X-PLAYLIST-TYPE:VOD, which hls.js only takes as ended with EXT-X-ENDLIST) whose
//     duration for hls.js and for the <video> is `duration` (the #EXTINF sum) within DURATION_SLACK;
//     `vod: false` wants a live playlist without a playlist type (a sliding DVR view).
//   - `switch: true` (a master of several variants): once it has played, the page asks hls.js for
//     the next variant (`nextLevel`); hls.js must switch to it (LEVEL_SWITCHED) and the video
//     play PLAY_SECONDS more after the switch.
// SPEC_JSON is a JSON array of {name, url, vod, duration?, switch?}. The page is served from the
// playlist's origin (intercepted by playwright, so hls.js loads the playlist same-origin) and
// gets hls.js from HLS_MIN_JS. Prints one JSON object {ok, failures, playlists: [...]}, exits 0
// when every check passed and 1 otherwise.

import { readFileSync } from 'node:fs';
import { launchChromium, summarizePlayback } from './chromium.mjs';

const PLAY_SECONDS = 4.5; // past two boundaries of 2-second segments
const PLAY_TIMEOUT_MS = 45_000;
const DURATION_SLACK = 0.5; // seconds: MSE's duration follows the media's last frame
const PAGE = '/__play_hls__.html';

const [hlsJs, specText] = process.argv.slice(2);
if (!hlsJs || !specText) {
  console.error('usage: node play_hls.mjs HLS_MIN_JS SPEC_JSON');
  process.exit(2);
}
const hlsSource = readFileSync(hlsJs, 'utf8');
const spec = JSON.parse(specText);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Plays `item` in a new page of `browser`; returns what was seen, with `failures`.
async function play(browser, item) {
  const seen = { name: item.name, url: item.url, failures: [] };
  const fail = (message) => seen.failures.push(`${item.name}: ${message}`);
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  try {
    const origin = new URL(item.url).origin;
    await page.route(`${origin}${PAGE}`, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/html',
        body: '<!doctype html><title>hls.js</title><video muted playsinline></video>',
      }),
    );
    await page.goto(`${origin}${PAGE}`, { waitUntil: 'load', timeout: 15_000 });
    await page.addScriptTag({ content: hlsSource });
    seen.hlsVersion = await page.evaluate(() => window.Hls && window.Hls.version);
    if (!seen.hlsVersion) throw new Error('hls.js did not load');
    await page.evaluate((url) => {
      const state = { errors: [], levels: [], videoErrors: [], switches: [], levelCount: 0 };
      window.__play = state;
      const video = document.querySelector('video');
      video.addEventListener('error', () => state.videoErrors.push(video.error && video.error.code));
      const hls = new window.Hls();
      window.__hls = hls;
      hls.on(window.Hls.Events.LEVEL_SWITCHED, (_, data) => state.switches.push(data.level));
      hls.on(window.Hls.Events.ERROR, (_, data) =>
        state.errors.push({ type: data.type, details: data.details, fatal: data.fatal }),
      );
      hls.on(window.Hls.Events.LEVEL_LOADED, (_, data) => {
        const details = data.details;
        state.levels.push({
          live: details.live,
          type: details.type,
          endList: !details.live,
          totalduration: details.totalduration,
          fragments: details.fragments.length,
          startSN: details.startSN,
          endSN: details.endSN,
        });
      });
      hls.on(window.Hls.Events.MANIFEST_PARSED, (_, data) => {
        state.levelCount = data.levels.length;
        video.play().catch((error) => state.errors.push({ type: 'play', details: String(error), fatal: true }));
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    }, item.url);

    // Sample the video until it has played PLAY_SECONDS past where it started.
    const samples = [];
    let start = null;
    const deadline = Date.now() + PLAY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const sample = await page.evaluate(() => {
        const v = document.querySelector('video');
        return { t: v.currentTime, paused: v.paused, readyState: v.readyState, duration: v.duration };
      });
      samples.push(sample);
      if (start === null && sample.t > 0 && !sample.paused) start = sample.t;
      if (start !== null && sample.t - start > PLAY_SECONDS) break;
      if ((await page.evaluate(() => window.__play.errors.some((e) => e.fatal)))) break;
      await sleep(250);
    }
    const summary = summarizePlayback(samples, start, PLAY_SECONDS, PLAY_TIMEOUT_MS);
    seen.playback = summary.playback;
    summary.failures.forEach(fail);
    if (item.switch && summary.failures.length === 0) await switchVariant(page, seen, fail);

    const state = await page.evaluate(() => window.__play);
    seen.errors = state.errors;
    seen.videoErrors = state.videoErrors;
    seen.level = state.levels[state.levels.length - 1] || null;
    seen.mediaDuration = await page.evaluate(() => document.querySelector('video').duration);
    const fatal = state.errors.filter((e) => e.fatal);
    if (fatal.length > 0) fail(`fatal hls.js errors: ${JSON.stringify(fatal)}`);
    if (state.videoErrors.length > 0) fail(`video errors: ${JSON.stringify(state.videoErrors)}`);
    if (!seen.level) fail('hls.js loaded no media playlist');
    else if (item.vod) {
      if (seen.level.live !== false) fail('hls.js takes the playlist as live (no ENDLIST?)');
      if (seen.level.type !== 'VOD') fail(`playlist type ${JSON.stringify(seen.level.type)}, not VOD`);
      if (Math.abs(seen.level.totalduration - item.duration) > 0.05) {
        fail(`hls.js duration ${seen.level.totalduration} s, the #EXTINF sum is ${item.duration} s`);
      }
      if (!(Math.abs(seen.mediaDuration - item.duration) <= DURATION_SLACK)) {
        fail(`video duration ${seen.mediaDuration} s, the #EXTINF sum is ${item.duration} s`);
      }
    } else {
      if (seen.level.live !== true) fail('hls.js takes the playlist as ended');
      if (seen.level.type !== null) fail(`playlist type ${JSON.stringify(seen.level.type)} on a sliding view`);
    }
    seen.pageErrors = pageErrors;
    if (pageErrors.length > 0) fail(`uncaught errors in the page: ${pageErrors.join('; ')}`);
  } catch (error) {
    fail(`${error.name}: ${error.message}`);
  } finally {
    await page.close();
  }
  return seen;
}

// Asks hls.js for the next variant, then waits for the switch and PLAY_SECONDS of playback
// after it.
async function switchVariant(page, seen, fail) {
  const { from, to } = await page.evaluate(() => {
    const hls = window.__hls;
    const from = hls.currentLevel;
    const to = (from + 1) % hls.levels.length;
    hls.nextLevel = to;
    return { from, to };
  });
  seen.switch = { from, to, levels: await page.evaluate(() => window.__play.levelCount) };
  if (seen.switch.levels < 2) return fail(`${seen.switch.levels} variant(s): nothing to switch to`);
  const deadline = Date.now() + PLAY_TIMEOUT_MS;
  let switchedAt = null;
  while (Date.now() < deadline) {
    const now = await page.evaluate(() => ({
      t: document.querySelector('video').currentTime,
      switches: window.__play.switches,
      fatal: window.__play.errors.some((e) => e.fatal),
    }));
    if (now.fatal) break;
    if (switchedAt === null && now.switches.includes(to)) switchedAt = now.t;
    if (switchedAt !== null && now.t - switchedAt > PLAY_SECONDS) {
      seen.switch.playedAfter = now.t - switchedAt;
      return;
    }
    await sleep(250);
  }
  fail(switchedAt === null ? `no switch to variant ${to}` : 'did not play on after the switch');
}

const result = { ok: false, failures: [], playlists: [] };
// Playwright gives the browser a new, empty profile directory (--user-data-dir) of its own.
const browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
try {
  for (const item of spec) {
    const seen = await play(browser, item);
    result.playlists.push(seen);
    result.failures.push(...seen.failures);
  }
} catch (error) {
  result.failures.push(`${error.name}: ${error.message}`);
} finally {
  await browser.close();
}
result.ok = result.failures.length === 0 && result.playlists.length === spec.length;
console.log(JSON.stringify(result, null, 2));
process.exit(result.ok ? 0 : 1);
