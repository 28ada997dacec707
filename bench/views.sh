#!/usr/bin/env bash
# bench/views.sh - what time-shift (DVR) and archive views cost (issue 16): N feeds each with a
# 2 h DVR view and hourly archives, against the same feeds with a live window only.
#
# Usage:  bench/views.sh [N]          (default: 100)
#
# A 2 h view takes 2 h to fill in real time, so each run has two phases ("a fast clock"):
#   fill     one sender (router/examples/udp_replay.rs) plays a 2 h clip to the N UDP feeds at
#            VIEWS_SPEED times real time (default 10) until it has sent VIEWS_MEDIA seconds of
#            media (default 7200: the DVR view then holds its full 2 h, 1800 segments of 4 s);
#            reported: daemon CPU per segment cut, and datagrams lost (continuity errors in
#            /metrics: the speed must stay below what the daemon keeps up with).
#   steady   the sender plays the clip again in real time for VIEWS_SECONDS (default 90; the
#            feeds mark the restart as a discontinuity, the views go on): daemon CPU (cores)
#            and RSS, per feed.
# Each phase once with views and once without, in one run; the lines to compare are the
# ratios. With the fast fill every segment's wall clock falls in one or two hours, so the open
# hourly archive lists up to the whole 2 h: more than a real hour's archive (900 segments).
#
# The clip is tiny (160x90, ~35 kbit/s, IDR every 2 s) so that N x 2 h of segments fit on disk
# (about 3 GB at N=100 under BENCH_DIR, removed after each run unless BENCH_KEEP_OUTPUT=1); the
# views' cost does not depend on the bit rate (they list segments, never read them).
#
# Environment: BENCH_DIR (target/bench), VIEWS_MEDIA (7200), VIEWS_SECONDS (90),
#   VIEWS_SPEED (10), VIEWS_BASE_PORT (43000; the operator's server on the port below it).
# Needs: ffmpeg, cargo, python3, curl. About 28 minutes at N=100 on 2 cores. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
N=${1:-100}
MEDIA=${VIEWS_MEDIA:-7200}
STEADY=${VIEWS_SECONDS:-90}
SPEED=${VIEWS_SPEED:-10}
BASE_PORT=${VIEWS_BASE_PORT:-43000}
LISTEN_PORT=$((BASE_PORT - 1))
say() { echo "views: $*" >&2; }

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
# shellcheck source=bench/lib.sh
source bench/lib.sh
build_release

CLIP=$BENCH_DIR/tiny-160x90-${MEDIA}s.ts
if [[ ! -s $CLIP ]]; then
    say "making $CLIP"
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=160x90:rate=25" \
        -f lavfi -i "sine=frequency=440:sample_rate=16000" -t "$((MEDIA + 60))" \
        -c:v libx264 -preset ultrafast -b:v 20k -g 50 -keyint_min 50 -sc_threshold 0 \
        -c:a aac -b:a 12k -ac 1 -f mpegts "$CLIP.part"
    mv "$CLIP.part" "$CLIP"
fi

# write_config MODE RUN: N UDP feeds, 4 s segments, a 6-segment live window, a local sink in
# RUN/out; MODE views adds a 2 h DVR view and hourly archives kept a day.
write_config() {
    python3 - "$1" "$2" "$N" "$BASE_PORT" <<'PY'
import sys
mode, run, n, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print("feeds = [")
for i in range(n):
    print(f'  {{ template = "feed", name = "f{i:04d}", port = {base + i} }},')
print("]\n")
print(f'[router]\nlisten = "127.0.0.1:{base - 1}"\n')
print(f'''[templates.feed]
sources.in = {{ type = "udp", bind = "127.0.0.1:{{{{port}}}}" }}
segmenters.seg = {{ input = "in", target_duration = 4 }}
sinks.web = {{ type = "local", inputs = ["hls"], path = "{run}/out" }}

[templates.feed.playlists.hls]
input = "seg"
name = "{{{{feed}}}}/index.m3u8"
segment_name = "{{{{feed}}}}/s-{{seq:05}}.ts"
window = 6''')
if mode == "views":
    print('\n[templates.feed.playlists.hls.dvr]\nduration = "2h"\n'
          '\n[templates.feed.playlists.hls.archive]\nevery = "1h"\nretain = "1d"')
PY
}

# last_segments RUN: the sum over the feeds of their live playlists' last sequence numbers.
last_segments() {
    python3 - "$1" <<'PY'
import glob, re, sys
total = 0
for path in glob.glob(f"{sys.argv[1]}/out/*/index.m3u8"):
    last = re.findall(r"s-(\d+)\.ts", open(path).read())
    total += int(last[-1]) if last else 0
print(total)
PY
}

CLK=$(getconf CLK_TCK)
declare -A FILL_MS FILL_CC STEADY_CORES STEADY_RSS
for MODE in live views; do
    RUN=$BENCH_DIR/views-$MODE-$N
    rm -rf "$RUN"; mkdir -p "$RUN/out"
    write_config "$MODE" "$RUN" >"$RUN/feeds.toml"
    start_daemon "$RUN" "$RUN/feeds.toml"
    say "$MODE: filling $N feeds with ${MEDIA} s of media each at ${SPEED}x real time"
    T0=$(now); C0=$(ticks "$PID")
    "$REPLAY" "$CLIP" "$BASE_PORT" "$N" "$(python3 -c "print($MEDIA / $SPEED)")" "$SPEED" >"$RUN/fill.log"
    sleep 2  # the last segments' publishing
    T1=$(now); C1=$(ticks "$PID")
    SEGMENTS=$(last_segments "$RUN")
    curl -s "http://127.0.0.1:$LISTEN_PORT/metrics" >"$RUN/fill.metrics"
    FILL_CC[$MODE]=$(python3 -c "import sys; sys.path.insert(0, 'bench'); from outcome import metric_sums; print(int(metric_sums('$RUN/fill.metrics').get('streamrouter_feed_cc_errors_total', 0)))")
    FILL_MS[$MODE]=$(python3 -c "print(($C1 - $C0) / $CLK * 1000 / $SEGMENTS)")
    say "$MODE: fill $(python3 -c "print(round($T1 - $T0))") s, $SEGMENTS segments, ${FILL_MS[$MODE]} CPU ms per segment, RSS $(vm_kb "$PID" VmRSS) kB; $(cat "$RUN/fill.log")"

    "$REPLAY" "$CLIP" "$BASE_PORT" "$N" "$((STEADY + 10))" >"$RUN/steady.log" &
    SENDER=$!
    sleep 10  # past the restart's first segments
    T2=$(now); C2=$(ticks "$PID")
    sleep "$STEADY"
    T3=$(now); C3=$(ticks "$PID")
    STEADY_CORES[$MODE]=$(python3 -c "print(($C3 - $C2) / $CLK / ($T3 - $T2))")
    STEADY_RSS[$MODE]=$(vm_kb "$PID" VmRSS)
    HWM=$(vm_kb "$PID" VmHWM)
    wait "$SENDER"
    if [[ $MODE == views ]]; then
        DVR=$(grep -c EXTINF "$RUN/out/f0000/index-dvr.m3u8" || true)
        say "views: f0000's DVR view lists $DVR segments; its archives: $(ls "$RUN/out/f0000.hls" | tr '\n' ' ')"
    fi
    stop_daemon
    say "$MODE: steady ${STEADY_CORES[$MODE]} cores, RSS ${STEADY_RSS[$MODE]} kB (peak $HWM kB)"
    [[ ${BENCH_KEEP_OUTPUT:-0} == 1 ]] || rm -rf "$RUN/out"
done

python3 - "$N" "$SPEED" "${FILL_MS[live]}" "${FILL_MS[views]}" "${STEADY_CORES[live]}" \
    "${STEADY_CORES[views]}" "${STEADY_RSS[live]}" "${STEADY_RSS[views]}" \
    "${FILL_CC[live]}" "${FILL_CC[views]}" <<'PY'
import sys
n, speed = int(sys.argv[1]), sys.argv[2]
fill_live, fill_views, cores_live, cores_views = map(float, sys.argv[3:7])
rss_live, rss_views, cc_live, cc_views = map(int, sys.argv[7:11])
print(f"N={n} feeds, 4 s segments, 2 h DVR + hourly archives vs live window only:")
print(f"  fill at {speed}x real time: {fill_live:.3f} vs {fill_views:.3f} CPU ms per segment "
      f"-> views/live {fill_views / fill_live:.2f}x (continuity errors while filling: {cc_live} / {cc_views})")
print(f"  steady (real time, views full): {cores_live:.3f} vs {cores_views:.3f} cores "
      f"-> {cores_views / cores_live:.2f}x")
print(f"  RSS: {rss_live / 1024 / n:.2f} vs {rss_views / 1024 / n:.2f} MB per feed "
      f"-> {rss_views / rss_live:.2f}x (+{(rss_views - rss_live) / 1024 / n:.2f} MB per feed)")
PY
