#!/usr/bin/env bash
# bench/publish.sh - publishing overhead to a local S3-compatible server.
#
# Usage:  bench/publish.sh [N ...]        (default: 1 100)
#
# For each N: starts moto's S3 server on 127.0.0.1, runs `streamrouter run` with N live feeds
# (the sample clip looped in real time, 2 s segments, one S3 sink each, keys under FEED/), and
# reports the median and p99 time from a segment being cut to the playlist version listing it
# being stored in the bucket (segment PUT + playlist PUT), from the daemon's debug log.
#
# Environment: PUBLISH_SECONDS (default 60), BENCH_DIR (default target/bench),
#   S3_SERVER: `moto` (default; Python, saturates one core near 100 feeds) or `s3s-fs` (Rust,
#   `cargo install s3s-fs@0.14.1 --features binary`, fast enough to measure the daemon).
# Needs: python3 with moto[server] (pip install "moto[server]") or s3s-fs, curl, cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
SECONDS_PER_RUN=${PUBLISH_SECONDS:-60}
S3_SERVER=${S3_SERVER:-moto}
COUNTS=("$@")
((${#COUNTS[@]})) || COUNTS=(1 100)
say() { echo "publish: $*" >&2; }
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
CLIP=$(pwd)/tests/data/h264_aac.ts
cargo build --release -q -p streamrouter --bin streamrouter
BIN=target/release/streamrouter

for N in "${COUNTS[@]}"; do
    RUN=$BENCH_DIR/publish-$N
    rm -rf "$RUN"; mkdir -p "$RUN"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case $S3_SERVER in
        moto) python3 -m moto.server -H 127.0.0.1 -p "$PORT" >"$RUN/s3.log" 2>&1 & ;;
        s3s-fs) mkdir -p "$RUN/s3/bench"  # a bucket is a directory
                s3s-fs --host 127.0.0.1 --port "$PORT" --access-key bench --secret-key bench \
                    "$RUN/s3" >"$RUN/s3.log" 2>&1 & ;;
        *) echo "S3_SERVER must be moto or s3s-fs" >&2; exit 1 ;;
    esac
    MOTO=$!
    trap 'kill $MOTO 2>/dev/null || true' EXIT
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
    [[ $S3_SERVER == moto ]] && curl -s -X PUT -o /dev/null "http://127.0.0.1:$PORT/bench"
    python3 - "$N" "$PORT" "$CLIP" >"$RUN/publish.toml" <<'PY'
import sys
n, port, clip = int(sys.argv[1]), sys.argv[2], sys.argv[3]
print("feeds = [")
for i in range(n):
    print(f'  {{ template = "live", name = "f{i:03d}" }},')
print("]\n")
print(f'''[templates.live]
sources.in = {{ type = "file", path = "{clip}", realtime = true, loop = true }}
segmenters.seg = {{ input = "in", target_duration = 2 }}
playlists.hls = {{ input = "seg", name = "index.m3u8", segment_name = "s-{{seq:05}}.ts", window = 6 }}
sinks.s3 = {{ type = "s3", inputs = ["hls"], bucket = "bench", prefix = "{{{{feed}}}}/", region = "us-east-1", endpoint = "http://127.0.0.1:{port}", access_key_id = "bench", secret_access_key = "bench" }}''')
PY
    say "N=$N: running for ${SECONDS_PER_RUN}s against $S3_SERVER"
    RUST_LOG=info,streamrouter::topology::sink_task=debug "$BIN" run "$RUN/publish.toml" \
        >/dev/null 2>"$RUN/daemon.log" &
    PID=$!
    sleep "$SECONDS_PER_RUN"
    kill -TERM "$PID"; wait "$PID" || true
    kill "$MOTO" 2>/dev/null || true; wait "$MOTO" 2>/dev/null || true
    python3 - "$N" "$RUN/daemon.log" <<'PY'
import re, statistics, sys
n, log = int(sys.argv[1]), open(sys.argv[2]).read()
values = sorted(float(v) for v in re.findall(r"playlist published.*?latency_ms=([0-9.]+)", log))
failures = len(re.findall(r"sink operation failed", log))
if not values:
    sys.exit(f"N={n}: no playlist published")
p99 = values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]
print(f"N={n}: {len(values)} playlist versions, segment cut → playlist stored: "
      f"median {statistics.median(values):.1f} ms, p99 {p99:.1f} ms, max {values[-1]:.1f} ms; "
      f"retried operations {failures}")
PY
done
