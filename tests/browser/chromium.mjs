// tests/browser/chromium.mjs - what the browser tests (watch_page.mjs, play_hls.mjs) share:
// Debian's Chromium driven by playwright-core with no downloaded browser (where it is:
// $CHROMIUM or /usr/bin/chromium; the flags of a headless test run; the launch, with a new,
// empty profile directory of its own given by playwright; exits 2 when Chromium is missing),
// and the summary of a <video>'s playback with the failures it shows.

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

/**
 * What a playback did, from `samples` ({t: currentTime, ...} every poll) and the time it
 * started at (`start`, null: never): its summary, and the failures it shows against
 * `playSeconds` of play within `timeoutMs`, and no step back.
 */
export function summarizePlayback(samples, start, playSeconds, timeoutMs) {
  const times = samples.map((s) => s.t);
  const last = times[times.length - 1];
  const playback = {
    start,
    end: last,
    played: start === null ? 0 : last - start,
    samples: samples.length,
    backwards: times.filter((t, i) => i > 0 && t < times[i - 1]).length,
    lastState: samples[samples.length - 1],
  };
  const failures = [];
  if (start === null) failures.push('the video never started playing');
  else if (last - start <= playSeconds) {
    failures.push(`the video played ${(last - start).toFixed(2)} s in ${timeoutMs / 1000} s (want > ${playSeconds} s)`);
  }
  if (playback.backwards > 0) failures.push(`currentTime went back ${playback.backwards} time(s)`);
  return { playback, failures };
}
