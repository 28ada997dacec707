# bench/lib.sh - shell pieces shared by the live-feed benches (bench/feeds.sh, bench/srt.sh);
# sourced, not run. Owns: the 2 Mbit/s test clip, the release build of the daemon and of the
# UDP sender (router/examples/udp_replay.rs), the N-feed config (UDP or SRT listener sources,
# one template line per feed), starting and stopping the daemon, and reading a process's CPU
# and memory from /proc. The segment outcome of a run (continuity errors, late and missing
# playlists) is bench/outcome.py. Callers set BENCH_DIR (an absolute path) and define say().

# make_clip SECONDS: sets CLIP to a 720p25 H.264+AAC MPEG-TS of SECONDS at ~2.1 Mbit/s, IDR
# every 2 s (made once with ffmpeg, cached in BENCH_DIR).
make_clip() {
    CLIP=$BENCH_DIR/feed-720p-2M-${1}s.ts
    [[ -s $CLIP ]] && return
    say "making $CLIP"
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=25,noise=alls=12:allf=t" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$1" \
        -c:v libx264 -preset ultrafast -b:v 1850k -maxrate 1850k -bufsize 3700k \
        -g 50 -keyint_min 50 -sc_threshold 0 -c:a aac -b:a 128k -f mpegts "$CLIP.part"
    mv "$CLIP.part" "$CLIP"
}

# build_release: builds the daemon and udp_replay (release); sets BIN and REPLAY.
build_release() {
    say "building release binaries"
    cargo build --release -q -p streamrouter --bin streamrouter --example udp_replay
    BIN=$(pwd)/target/release/streamrouter
    REPLAY=$(pwd)/target/release/examples/udp_replay
}

# write_feeds_config KIND N BASE_PORT RUN [LISTEN [SRT_PORTS [SRT_LATENCY_MS]]]: prints a config of N feeds
# f0000.. with 4 s segments, 6-segment windows, a local sink in RUN/out. KIND udp: feed i
# binds UDP 127.0.0.1:BASE_PORT+i. KIND srt: feed i is an SRT listener with stream id f000i
# and its own AES passphrase (bench-f000i-secret), all on 127.0.0.1:BASE_PORT
# (SRT_PORTS=shared, the default) or each on BASE_PORT+i (SRT_PORTS=each), with the SRT
# latency SRT_LATENCY_MS (default 120). LISTEN: the operator's server port (/metrics), none
# if empty. FEEDS_ENCRYPT=1 in the environment: every playlist AES-128 encrypted, a new key
# every 3 segments, stored beside its segments.
write_feeds_config() {
    python3 - "$@" <<'PY'
import os, sys
kind, n, base, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
encryption = ""
if os.environ.get("FEEDS_ENCRYPT") == "1":
    encryption = ', encryption = { rotate_every = 3, key_name = "{{feed}}/k-{key:04}.key" }'
listen = sys.argv[5] if len(sys.argv) > 5 else ""
shared = (sys.argv[6] if len(sys.argv) > 6 else "shared") == "shared"
latency = sys.argv[7] if len(sys.argv) > 7 else "120"
print("feeds = [")
for i in range(n):
    port = base if kind == "srt" and shared else base + i
    print(f'  {{ template = "{kind}", name = "f{i:04d}", port = {port} }},')
print("]\n")
if listen:
    print(f'[router]\nlisten = "127.0.0.1:{listen}"\n')
if kind == "udp":
    source = 'type = "udp", bind = "127.0.0.1:{{port}}"'
else:
    source = ('type = "srt", bind = "127.0.0.1:{{port}}", stream_id = "{{feed}}", '
              f'passphrase = "bench-{{{{feed}}}}-secret", latency = "{latency}ms"')
print(f'''[templates.{kind}]
sources.in = {{ {source} }}
segmenters.seg = {{ input = "in", target_duration = 4 }}
playlists.hls = {{ input = "seg", name = "{{{{feed}}}}/index.m3u8", segment_name = "{{{{feed}}}}/s-{{seq:05}}.ts", window = 6{encryption} }}
sinks.web = {{ type = "local", inputs = ["hls"], path = "{run}/out" }}''')
PY
}

# start_daemon RUN CONFIG: checks CONFIG, starts `streamrouter run` on it (RUN/daemon.log),
# sets PID and waits (up to 10 s) for its graph to run.
start_daemon() {
    "$BIN" check "$2" >/dev/null
    RUST_LOG=${RUST_LOG:-info} "$BIN" run "$2" >"$1/stdout.log" 2>"$1/daemon.log" &
    PID=$!
    for _ in $(seq 100); do grep -q "graph running" "$1/daemon.log" && break; sleep 0.1; done
}

# stop_daemon: SIGTERM to PID, waits for it.
stop_daemon() {
    kill -TERM "$PID"
    wait "$PID" || true
}

# ticks PID: user + system CPU of PID so far, in clock ticks (getconf CLK_TCK per second).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# vm_kb PID FIELD: a /proc/PID/status field in kB (VmHWM = peak RSS, VmRSS = RSS now).
vm_kb() { awk -v field="$2:" '$1 == field {print $2}' "/proc/$1/status"; }

# now: wall clock, seconds with nanoseconds.
now() { date +%s.%N; }
