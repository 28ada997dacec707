#!/usr/bin/env bash
# bench/feeds.sh - many concurrent live UDP feeds in one streamrouter process.
#
# Usage:  bench/feeds.sh [N ...]          (default: 100 500)
#
# For each N: writes a config with N UDP feeds (one template, one line per feed) publishing
# 4-second segments to local folders, starts `streamrouter run`, replays a 2 Mbit/s H.264+AAC
# clip to all N ports in real time from one sender process (router/examples/udp_replay.rs,
# staggered so keyframes don't align), then stops the daemon with SIGTERM and reports:
#   - daemon CPU (user+sys seconds per wall second, i.e. cores) and peak RSS (VmHWM), per feed
#   - lost packets: continuity-counter errors summed over all feeds (datagrams dropped anywhere)
#   - late segments: feeds whose playlist holds fewer segments than the run's length allows
#
# Environment:
#   BENCH_DIR       scratch dir (default target/bench)
#   FEEDS_SECONDS   replay length per N (default 120)
#   FEEDS_BASE_PORT first UDP port (default 41000)
#   FEEDS_ENCRYPT   1 = every playlist AES-128 encrypted (a new key every 3 segments); run
#                   once with and once without to compare CPU
# Needs: ffmpeg (to make the clip once), cargo, python3. Shared pieces: bench/lib.sh, bench/outcome.py.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
SECONDS_PER_RUN=${FEEDS_SECONDS:-120}
BASE_PORT=${FEEDS_BASE_PORT:-41000}
COUNTS=("$@")
((${#COUNTS[@]})) || COUNTS=(100 500)
say() { echo "feeds: $*" >&2; }

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
# shellcheck source=bench/lib.sh
source bench/lib.sh
# As long as the longest run, so no stream loops (a loop would show as continuity errors).
make_clip $((SECONDS_PER_RUN + 10))
build_release

for N in "${COUNTS[@]}"; do
    RUN=$BENCH_DIR/feeds-$N
    rm -rf "$RUN"; mkdir -p "$RUN/out"
    write_feeds_config udp "$N" "$BASE_PORT" "$RUN" >"$RUN/feeds.toml"
    say "N=$N: starting the daemon"
    start_daemon "$RUN" "$RUN/feeds.toml"
    CLK=$(getconf CLK_TCK)
    T0=$(now); C0=$(ticks "$PID")
    say "N=$N: replaying for ${SECONDS_PER_RUN}s"
    "$REPLAY" "$CLIP" "$BASE_PORT" "$N" "$SECONDS_PER_RUN" >"$RUN/replay.log"
    T1=$(now); C1=$(ticks "$PID")
    HWM=$(vm_kb "$PID" VmHWM)
    RSS=$(vm_kb "$PID" VmRSS)
    stop_daemon
    python3 - "$N" "$RUN" "$T0" "$T1" "$C0" "$C1" "$CLK" "$HWM" "$RSS" "$SECONDS_PER_RUN" <<'PY'
import sys
sys.path.insert(0, "bench")
from outcome import segments
n, run = int(sys.argv[1]), sys.argv[2]
t0, t1, c0, c1, clk = map(float, sys.argv[3:8])
hwm_kb, rss_kb, seconds = int(sys.argv[8]), int(sys.argv[9]), float(sys.argv[10])
out = segments(run, n, seconds)
cores = (c1 - c0) / clk / (t1 - t0)
print(f"N={n}: {seconds:.0f} s, CPU {cores:.2f} cores ({cores / n * 1000:.2f} ms/s per feed), "
      f"peak RSS {hwm_kb / 1024:.1f} MB ({hwm_kb / 1024 / n:.2f} MB per feed), RSS at end {rss_kb / 1024:.1f} MB, "
      f"lost packets (CC errors) {out['cc']}, feeds without playlist {out['missing']}, late feeds {out['late']}, "
      f"segmenters stopped cleanly {out['stopped']}/{n}")
print("  replay: " + open(f"{run}/replay.log").read().strip())
PY
    [[ ${BENCH_KEEP_OUTPUT:-0} == 1 ]] || rm -rf "$RUN/out"
done
