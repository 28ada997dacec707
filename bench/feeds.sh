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
# Needs: ffmpeg (to make the clip once), cargo, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
SECONDS_PER_RUN=${FEEDS_SECONDS:-120}
BASE_PORT=${FEEDS_BASE_PORT:-41000}
COUNTS=("$@")
((${#COUNTS[@]})) || COUNTS=(100 500)
say() { echo "feeds: $*" >&2; }

mkdir -p "$BENCH_DIR"
# As long as the longest run, so no stream loops (a loop would show as continuity errors).
CLIP_SECONDS=$((SECONDS_PER_RUN + 10))
CLIP=$BENCH_DIR/feed-720p-2M-${CLIP_SECONDS}s.ts
if [[ ! -s $CLIP ]]; then
    say "making $CLIP"
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=25,noise=alls=12:allf=t" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$CLIP_SECONDS" \
        -c:v libx264 -preset ultrafast -b:v 1850k -maxrate 1850k -bufsize 3700k \
        -g 50 -keyint_min 50 -sc_threshold 0 -c:a aac -b:a 128k -f mpegts "$CLIP"
fi
say "building release binaries"
cargo build --release -q -p streamrouter --bin streamrouter --example udp_replay
BIN=target/release/streamrouter
REPLAY=target/release/examples/udp_replay

for N in "${COUNTS[@]}"; do
    RUN=$(cd "$BENCH_DIR" && pwd)/feeds-$N
    rm -rf "$RUN"; mkdir -p "$RUN/out"
    python3 - "$N" "$BASE_PORT" "$RUN" >"$RUN/feeds.toml" <<'PY'
import sys
n, base, run = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print("feeds = [")
for i in range(n):
    print(f'  {{ template = "udp", name = "f{i:04d}", port = {base + i} }},')
print("]\n")
print(f'''[templates.udp]
sources.in = {{ type = "udp", bind = "127.0.0.1:{{{{port}}}}" }}
segmenters.seg = {{ input = "in", target_duration = 4 }}
playlists.hls = {{ input = "seg", name = "{{{{feed}}}}/index.m3u8", segment_name = "{{{{feed}}}}/s-{{seq:05}}.ts", window = 6 }}
sinks.web = {{ type = "local", inputs = ["hls"], path = "{run}/out" }}''')
PY
    "$BIN" check "$RUN/feeds.toml" >/dev/null
    say "N=$N: starting the daemon"
    RUST_LOG=info "$BIN" run "$RUN/feeds.toml" >"$RUN/stdout.log" 2>"$RUN/daemon.log" &
    PID=$!
    for _ in $(seq 100); do grep -q "graph running" "$RUN/daemon.log" && break; sleep 0.1; done
    ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
    CLK=$(getconf CLK_TCK)
    T0=$(date +%s.%N); C0=$(ticks)
    say "N=$N: replaying for ${SECONDS_PER_RUN}s"
    "$REPLAY" "$CLIP" "$BASE_PORT" "$N" "$SECONDS_PER_RUN" >"$RUN/replay.log"
    T1=$(date +%s.%N); C1=$(ticks)
    HWM=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
    RSS=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    kill -TERM "$PID"; wait "$PID" || true
    python3 - "$N" "$RUN" "$T0" "$T1" "$C0" "$C1" "$CLK" "$HWM" "$RSS" "$SECONDS_PER_RUN" <<'PY'
import glob, re, sys
n, run = int(sys.argv[1]), sys.argv[2]
t0, t1, c0, c1, clk = map(float, sys.argv[3:8])
hwm_kb, rss_kb, seconds = int(sys.argv[8]), int(sys.argv[9]), float(sys.argv[10])
log = open(f"{run}/daemon.log").read()
cc = sum(int(m) for m in re.findall(r"continuity_errors=(\d+)", log))
stopped = len(re.findall(r"segmenter stopped", log))
# 4 s segments over the run, minus the start (first keyframe) and the open segment at the end.
expected = int(seconds // 4) - 2
late = 0
for playlist in glob.glob(f"{run}/out/*/index.m3u8"):
    text = open(playlist).read()
    last = re.findall(r"s-(\d+)\.ts", text)
    if not last or int(last[-1]) < expected:
        late += 1
missing = n - len(glob.glob(f"{run}/out/*/index.m3u8"))
cores = (c1 - c0) / clk / (t1 - t0)
print(f"N={n}: {seconds:.0f} s, CPU {cores:.2f} cores ({cores / n * 1000:.2f} ms/s per feed), "
      f"peak RSS {hwm_kb / 1024:.1f} MB ({hwm_kb / 1024 / n:.2f} MB per feed), RSS at end {rss_kb / 1024:.1f} MB, "
      f"lost packets (CC errors) {cc}, feeds without playlist {missing}, late feeds {late}, "
      f"segmenters stopped cleanly {stopped}/{n}")
print("  replay: " + open(f"{run}/replay.log").read().strip())
PY
    [[ ${BENCH_KEEP_OUTPUT:-0} == 1 ]] || rm -rf "$RUN/out"
done
