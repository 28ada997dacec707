#!/usr/bin/env bash
# bench/segment.sh - benchmark `streamrouter segment` against ffmpeg's HLS muxer and cp.
#
# Usage:  bench/segment.sh
#
# 1. Makes (once, cached) $BENCH_DIR/input-1080p25-8M-120s.ts: 2 minutes of
#    1920x1080 25 fps H.264 (libx264 ultrafast + 2 B-frames, 8 Mbit/s CBR-ish,
#    IDR every 2 s) + AAC stereo, MPEG-TS, about 126 MB. testsrc2 with temporal
#    noise, so the bitrate is real. Takes ~25 s on 2 cores.
# 2. Builds streamrouter (cargo build --release -p streamrouter) if the binary
#    is missing (or always, with BENCH_BUILD=1).
# 3. With a warm page cache (each command is run once untimed first), times
#    BENCH_RUNS runs of each of, round-robin, each into a fresh empty dir:
#      streamrouter segment IN --out DIR --target-duration 4
#      ffmpeg -v error -i IN -c copy -f hls -hls_time 4 -hls_list_size 0 DIR/index.m3u8
#      streamrouter segment IN --out DIR --target-duration 4 --format fmp4
#      ffmpeg -v error -i IN -c copy -bsf:a aac_adtstoasc -f hls -hls_time 4
#             -hls_list_size 0 -hls_segment_type fmp4 DIR/index.m3u8
#      streamrouter segment IN --out DIR --target-duration 4 --encrypt --rotate-every 3
#      ffmpeg ... -f hls ... -hls_enc 1 -hls_enc_key K DIR/index.m3u8   (AES-128, one key)
#      cp IN DIR/copy.ts
#      dd if=IN of=DIR/copy.ts bs=256k   (the read()+write() floor; cp copies in-kernel)
#    and prints median/min/max wall time, throughput and peak RSS, plus the
#    ratios ffmpeg/streamrouter (speed-up, for TS, fMP4 and AES-128), streamrouter/cp and
#    the cost of encryption (AES-128 / clear, ours and ffmpeg's).
#
# Environment:
#   BENCH_DIR     cache + scratch directory     (default: target/bench)
#   BENCH_RUNS    timed runs per command        (default: 5)
#   STREAMROUTER  streamrouter binary/command   (default: target/release/streamrouter)
#   BENCH_BUILD   1 = run cargo build even if the default binary exists
#   BENCH_ONLY    the commands to time, space-separated (default: all of them; e.g.
#                 "streamrouter streamrouter-aes ffmpeg-hls ffmpeg-hls-aes" for encryption)
#   BENCH_KEEP_OUTPUT  1 = keep the last run's output dirs in $BENCH_DIR/out
#                 (default: removed at the end; the logs are kept)
#
# Needs: bash, ffmpeg (libx264, aac), python3 (stdlib; wall time via
# time.perf_counter around each run), GNU time /usr/bin/time (Debian package
# "time", for peak RSS; falls back to wait4's ru_maxrss without it), cargo
# (only to build streamrouter).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BENCH_DIR=${BENCH_DIR:-$ROOT/target/bench}
RUNS=${BENCH_RUNS:-5}
SR_DEFAULT=$ROOT/target/release/streamrouter
STREAMROUTER=${STREAMROUTER:-}

die() { echo "bench: error: $*" >&2; exit 1; }
say() { echo "bench: $*"; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
for tool in ffmpeg ffprobe python3; do
    command -v "$tool" >/dev/null || die "'$tool' not found (apt-get install ffmpeg python3)"
done
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
IN=$BENCH_DIR/input-1080p25-8M-120s.ts

# ------------------------------------------------------------ bench input ---
if [[ ! -s $IN ]]; then
    say "generating $IN (2 min 1080p25 H.264 8 Mbit/s + AAC) ..."
    start=$(date +%s.%N)
    # written to a temp name first, so a cached file is always complete
    ffmpeg -nostdin -hide_banner -v error -y \
        -f lavfi -i "testsrc2=s=1920x1080:r=25:d=120" \
        -f lavfi -i "sine=f=440:b=4:r=48000:d=120" \
        -map 0:v -map 1:a -vf "noise=alls=12:allf=t" \
        -c:v libx264 -preset ultrafast -bf 2 -b:v 8M -maxrate 8M -bufsize 16M \
        -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p \
        -c:a aac -b:a 128k -ac 2 \
        -f mpegts "$IN.tmp"
    mv "$IN.tmp" "$IN"
    say "generated in $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)") s"
else
    say "using cached $IN"
fi
IN_BYTES=$(stat -c %s "$IN")

# ---------------------------------------------------------- streamrouter ---
if [[ -z $STREAMROUTER ]]; then
    STREAMROUTER=$SR_DEFAULT
    if [[ ! -x $STREAMROUTER || ${BENCH_BUILD:-0} == 1 ]]; then
        command -v cargo >/dev/null || die "$STREAMROUTER missing and cargo not found"
        say "building streamrouter: cargo build --release -p streamrouter"
        (cd "$ROOT" && cargo build --release -p streamrouter) \
            || die "cargo build --release -p streamrouter failed"
        [[ -x $STREAMROUTER ]] || die "build succeeded but $STREAMROUTER does not exist"
    fi
fi
command -v "$STREAMROUTER" >/dev/null \
    || die "STREAMROUTER='$STREAMROUTER' is not an executable (path or command name)"

# ------------------------------------------------------------- measuring ---
# RUN1 LOG CMD... : run CMD once (stdout+stderr to LOG), print "wall_s maxrss_kb cpu_s".
# Wall time: perf_counter around the child. Peak RSS: GNU time's %M when
# /usr/bin/time exists (Debian package "time"); otherwise the child's
# ru_maxrss from wait4, which on Linux also counts the RSS of the python
# process it was forked from (~10-15 MB floor), so small values are inflated.
TIME_BIN=/usr/bin/time
if [[ ! -x $TIME_BIN ]] || ! "$TIME_BIN" -f %M -o /dev/null true 2>/dev/null; then
    say "warning: GNU time not found (apt-get install time); peak RSS includes a ~13 MB python floor"
    TIME_BIN=""
fi
RUN1='
import os, subprocess, sys, tempfile, time
time_bin, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
rss_file = None
if time_bin:
    fd, rss_file = tempfile.mkstemp(prefix="bench-rss-")
    os.close(fd)
    cmd = [time_bin, "-f", "%M", "-o", rss_file] + cmd
with open(log, "ab") as f:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
p.returncode = code = os.waitstatus_to_exitcode(status)
rss = ru.ru_maxrss
if rss_file:
    lines = open(rss_file).read().split()
    os.unlink(rss_file)
    rss = int(lines[-1]) if lines and lines[-1].isdigit() else -1
cpu = ru.ru_utime + ru.ru_stime  # of the command (GNU time reaps it, so it is counted)
print(f"{wall:.6f} {rss} {cpu:.6f}")
sys.exit(0 if code == 0 else 1)
'

ALL_NAMES=(streamrouter ffmpeg-hls streamrouter-fmp4 ffmpeg-fmp4 streamrouter-aes ffmpeg-hls-aes cp dd)
read -r -a NAMES <<<"${BENCH_ONLY:-${ALL_NAMES[*]}}"
for name in "${NAMES[@]}"; do
    [[ " ${ALL_NAMES[*]} " == *" $name "* ]] || die "BENCH_ONLY: unknown command '$name' (known: ${ALL_NAMES[*]})"
done
OUT=$BENCH_DIR/out
RESULTS=$BENCH_DIR/results.txt
mkdir -p "$OUT"
: >"$RESULTS"

AES_KEY_HEX=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

# command NAME DIR -> sets CMD (array) for that benchmark, writing into DIR
command_for() {
    case $1 in
        streamrouter) CMD=("$STREAMROUTER" segment "$IN" --out "$2" --target-duration 4) ;;
        ffmpeg-hls)   CMD=(ffmpeg -nostdin -v error -i "$IN" -c copy -f hls -hls_time 4
                           -hls_list_size 0 "$2/index.m3u8") ;;
        streamrouter-fmp4) CMD=("$STREAMROUTER" segment "$IN" --out "$2" --target-duration 4
                           --format fmp4) ;;
        # ffmpeg's mp4 muxer wants raw AAC: with -c copy it refuses ADTS without the filter.
        ffmpeg-fmp4)  CMD=(ffmpeg -nostdin -v error -i "$IN" -c copy -bsf:a aac_adtstoasc -f hls
                           -hls_time 4 -hls_list_size 0 -hls_segment_type fmp4 "$2/index.m3u8") ;;
        streamrouter-aes) CMD=("$STREAMROUTER" segment "$IN" --out "$2" --target-duration 4
                           --encrypt --rotate-every 3) ;;
        # Debian's ffmpeg cannot make a key itself ("Cannot generate a strong random key"):
        # it is given one (one key for the whole output).
        ffmpeg-hls-aes) CMD=(ffmpeg -nostdin -v error -i "$IN" -c copy -f hls -hls_time 4
                           -hls_list_size 0 -hls_enc 1 -hls_enc_key "$AES_KEY_HEX"
                           "$2/index.m3u8") ;;
        cp)           CMD=(cp "$IN" "$2/copy.ts") ;;
        # dd is the floor of any program that reads and writes through user space: cp itself
        # copies inside the kernel (copy_file_range) and never sees the bytes.
        dd)           CMD=(dd "if=$IN" "of=$2/copy.ts" bs=256k status=none) ;;
        *) die "unknown benchmark $1" ;;
    esac
}

# measure NAME RUN : fresh output dir, run once; RUN=0 is the untimed warm-up
measure() {
    local name=$1 run=$2 dir=$OUT/$1 log=$OUT/$1.log res
    rm -rf "$dir"; mkdir -p "$dir"; : >"$log"
    command_for "$name" "$dir"
    sync  # don't let the previous run's dirty pages be written back during this one
    if ! res=$(python3 -c "$RUN1" "$TIME_BIN" "$log" "${CMD[@]}"); then
        echo "bench: '$name' failed (run $run): ${CMD[*]}" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    if (( run > 0 )); then echo "$name $run $res" >>"$RESULTS"; fi
}

say "input: $IN_BYTES bytes; $RUNS timed runs per command after one warm-up run"
say "streamrouter: $STREAMROUTER"
for name in "${NAMES[@]}"; do
    say "warm-up: $name"
    measure "$name" 0
done
for ((run = 1; run <= RUNS; run++)); do
    say "run $run/$RUNS"
    for name in "${NAMES[@]}"; do measure "$name" "$run"; done
done

# sanity check of the last outputs (informational only)
for name in "${NAMES[@]}"; do
    say "last output of $name: $(find "$OUT/$name" -type f | wc -l) files"
done
if [[ ${BENCH_KEEP_OUTPUT:-0} == 1 ]]; then
    say "outputs of the last run kept in $OUT"
else
    for name in "${NAMES[@]}"; do rm -rf "${OUT:?}/$name"; done  # ~6x input
fi

# ---------------------------------------------------------------- report ---
python3 - "$RESULTS" "$IN_BYTES" "$RUNS" <<'EOF'
import statistics, sys
path, in_bytes, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
walls, rss, cpus = {}, {}, {}
for line in open(path):
    name, _run, wall, kb, cpu = line.split()
    walls.setdefault(name, []).append(float(wall))
    cpus.setdefault(name, []).append(float(cpu))
    rss[name] = max(rss.get(name, 0), int(kb))
med = {n: statistics.median(w) for n, w in walls.items()}
cpu = {n: statistics.median(c) for n, c in cpus.items()}
mb = in_bytes / 1e6
print()
print(f"input {mb:.1f} MB, {runs} runs each, warm page cache")
print(f"{'command':<18} {'median s':>9} {'min s':>8} {'max s':>8} {'MB/s':>8} {'peak RSS MB':>12} {'CPU s':>7}")
for n in ("streamrouter", "ffmpeg-hls", "streamrouter-fmp4", "ffmpeg-fmp4", "streamrouter-aes",
          "ffmpeg-hls-aes", "cp", "dd"):
    if n not in walls:
        continue
    w = walls[n]
    print(f"{n:<18} {med[n]:9.3f} {min(w):8.3f} {max(w):8.3f} {mb / med[n]:8.0f} {rss[n] / 1024:12.1f} {cpu[n]:7.3f}")
print()

def ratio(label, a, b, with_cpu=True):
    """a/b of the median wall times (and CPU), when both were timed."""
    if a in med and b in med:
        text = f"{label:<29}: {med[a] / med[b]:.2f}x wall"
        if with_cpu:
            text += f", {cpu[a] / cpu[b]:.2f}x CPU"
        print(text)

ratio("speed-up ffmpeg/streamrouter", "ffmpeg-hls", "streamrouter")
ratio("streamrouter/cp", "streamrouter", "cp", with_cpu=False)
ratio("streamrouter/dd (read+write)", "streamrouter", "dd", with_cpu=False)
if "streamrouter" in rss:
    print(f"streamrouter peak RSS        : {rss['streamrouter'] / 1024:.1f} MB")
ratio("fMP4 speed-up ffmpeg/ours", "ffmpeg-fmp4", "streamrouter-fmp4")
ratio("fMP4/TS (ours)", "streamrouter-fmp4", "streamrouter")
if "streamrouter-fmp4" in rss and "ffmpeg-fmp4" in rss:
    print(f"fMP4 peak RSS ours / ffmpeg  : {rss['streamrouter-fmp4'] / 1024:.1f} / {rss['ffmpeg-fmp4'] / 1024:.1f} MB")
ratio("AES-128/clear (ours)", "streamrouter-aes", "streamrouter")
ratio("AES-128/clear (ffmpeg)", "ffmpeg-hls-aes", "ffmpeg-hls")
ratio("AES speed-up ffmpeg/ours", "ffmpeg-hls-aes", "streamrouter-aes")
EOF
