#!/usr/bin/env bash
# bench/durable.sh - durable publishing (issue 13): what a stop, an outage and the journal cost.
#
# Usage:  bench/durable.sh [stop] [catchup] [journal]     (default: all three)
#
# Every run: N live feeds (the sample clip looped in real time, 2 s segments, a 6-entry
# window), each published by its own S3 sink under its own prefix, to an S3 server on
# 127.0.0.1 reached through a TCP proxy that the script can cut (new connections are closed,
# open ones shut, as when the network goes away). Release build, one daemon per run.
#
#   stop     For each N in DURABLE_STOP_FEEDS: publish DURABLE_WARM s, cut the proxy, wait
#            DURABLE_OUTAGE s, SIGTERM: seconds SIGTERM -> exit (and its ratio to the
#            configured stop_timeout, default 5 s), exit status.
#   catchup  CATCHUP_FEEDS feeds: publish DURABLE_WARM s, cut the proxy for CATCHUP_OUTAGE s,
#            restore it: seconds until every sink's queue (/metrics
#            streamrouter_sink_queue_depth) is back to at most 2 entries, segments stored
#            meanwhile (daemon debug log "segment stored"), segments/s, and that rate over
#            the live rate (N/2 segments/s: how many times faster than real time it catches up).
#   journal  JOURNAL_FEEDS feeds for JOURNAL_SECONDS s, no cut, once without state_dir (the
#            journal is a scratch directory, never fsync'd) and once with it (fsync'd):
#            daemon CPU (start to SIGTERM) per stored segment and the median segment-cut -> playlist-stored
#            latency (debug log "playlist published ... latency_ms"), and the ratios
#            with/without. One run each: compare the ratios, not the times.
#
# Environment (scale knobs): DURABLE_STOP_FEEDS ("1 100"), DURABLE_WARM (10),
#   DURABLE_OUTAGE (10), CATCHUP_FEEDS (100), CATCHUP_OUTAGE (60), CATCHUP_LIMIT (300, the
#   longest wait for the queues), JOURNAL_FEEDS (20), JOURNAL_SECONDS (40),
#   BENCH_DIR (target/bench), S3_SERVER (moto or s3s-fs, as in bench/publish.sh; moto
#   saturates one core near 100 feeds, so at 100 feeds its rows measure moto).
# Needs: python3 with moto[server] (or s3s-fs), curl, cargo. Takes about 6 minutes with the
# defaults. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
STOP_FEEDS=${DURABLE_STOP_FEEDS:-1 100}
WARM=${DURABLE_WARM:-10}
OUTAGE=${DURABLE_OUTAGE:-10}
CATCHUP_FEEDS=${CATCHUP_FEEDS:-100}
CATCHUP_OUTAGE=${CATCHUP_OUTAGE:-60}
CATCHUP_LIMIT=${CATCHUP_LIMIT:-300}
JOURNAL_FEEDS=${JOURNAL_FEEDS:-20}
JOURNAL_SECONDS=${JOURNAL_SECONDS:-40}
S3_SERVER=${S3_SERVER:-moto}
PARTS=("$@")
((${#PARTS[@]})) || PARTS=(stop catchup journal)
say() { echo "durable: $*" >&2; }
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
CLIP=$(pwd)/tests/data/h264_aac.ts
cargo build --release -q -p streamrouter --bin streamrouter
BIN=$(pwd)/target/release/streamrouter
export RUST_LOG=info,streamrouter::topology::sink_task=debug

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# The cuttable proxy: while the file FLAG exists, connections are refused and open ones shut.
cat >"$BENCH_DIR/cut_proxy.py" <<'PY'
import os, socket, sys, threading, time
listen, target, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
live, lock = set(), threading.Lock()
def close(s):
    try: s.shutdown(socket.SHUT_RDWR)
    except OSError: pass
def pump(a, b):
    try:
        while (data := a.recv(65536)):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            close(s)
            with lock: live.discard(s)
def watch():
    while True:
        if os.path.exists(flag):
            with lock:
                for s in list(live): close(s)
                live.clear()
        time.sleep(0.05)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen)); server.listen(1024)
threading.Thread(target=watch, daemon=True).start()
while True:
    client, _ = server.accept()
    if os.path.exists(flag):
        client.close(); continue
    try: upstream = socket.create_connection(("127.0.0.1", target))
    except OSError:
        client.close(); continue
    with lock: live.update((client, upstream))
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
PY

# start_servers RUN: an S3 server with bucket `bench` (S3_PORT) and the proxy to it
# (PROXY_PORT, cut while RUN/down exists).
start_servers() {
    local run=$1
    S3_PORT=$(free_port); PROXY_PORT=$(free_port)
    case $S3_SERVER in
        moto) python3 -m moto.server -H 127.0.0.1 -p "$S3_PORT" >"$run/s3.log" 2>&1 & ;;
        s3s-fs) mkdir -p "$run/s3/bench"
                s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key bench --secret-key bench \
                    "$run/s3" >"$run/s3.log" 2>&1 & ;;
        *) echo "S3_SERVER must be moto or s3s-fs" >&2; exit 1 ;;
    esac
    S3_PID=$!; PIDS+=("$S3_PID")
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done
    [[ $S3_SERVER == moto ]] && curl -s -X PUT -o /dev/null "http://127.0.0.1:$S3_PORT/bench"
    rm -f "$run/down"
    python3 "$BENCH_DIR/cut_proxy.py" "$PROXY_PORT" "$S3_PORT" "$run/down" &
    PROXY_PID=$!; PIDS+=("$PROXY_PID")
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/" && break; sleep 0.1; done
}

stop_servers() {
    kill "$PROXY_PID" "$S3_PID" 2>/dev/null || true
    wait "$PROXY_PID" "$S3_PID" 2>/dev/null || true
}

# write_config RUN N PORT STATE(yes|no) [LISTEN]: RUN/durable.toml.
write_config() {
    python3 - "$@" "$CLIP" >"$1/durable.toml" <<'PY'
import sys
run, n, port, state = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
listen, clip = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else ("", sys.argv[5])
print("feeds = [")
for i in range(n):
    print(f'  {{ template = "live", name = "f{i:03d}" }},')
print("]\n")
print("[router]")
if state == "yes":
    print(f'state_dir = "{run}/state"')
if listen:
    print(f'listen = "127.0.0.1:{listen}"')
print()
print(f'''[templates.live]
sources.in = {{ type = "file", path = "{clip}", realtime = true, loop = true }}
segmenters.seg = {{ input = "in", target_duration = 2 }}
playlists.hls = {{ input = "seg", name = "index.m3u8", segment_name = "s-{{seq:05}}.ts", window = 6 }}
sinks.s3 = {{ type = "s3", inputs = ["hls"], bucket = "bench", prefix = "{{{{feed}}}}/", region = "us-east-1", endpoint = "http://127.0.0.1:{port}", access_key_id = "bench", secret_access_key = "bench" }}''')
PY
}

start_daemon() {
    "$BIN" check "$1/durable.toml" >/dev/null
    "$BIN" run "$1/durable.toml" >/dev/null 2>"$1/daemon.log" &
    DAEMON=$!; PIDS+=("$DAEMON")
}

# CPU seconds (user + system) the process PID used so far.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# The largest and the summed queue depth over all sinks, from /metrics at 127.0.0.1:PORT.
queue_depth() {
    curl -s "http://127.0.0.1:$1/metrics" |
        awk '/^streamrouter_sink_queue_depth/ { v = $NF + 0; s += v; if (v > m) m = v } END { print m + 0, s + 0 }'
}

stop_time() {
    for N in $STOP_FEEDS; do
        local run=$BENCH_DIR/durable-stop-$N
        rm -rf "$run"; mkdir -p "$run"
        start_servers "$run"
        write_config "$run" "$N" "$PROXY_PORT" yes
        start_daemon "$run"
        say "stop, N=$N: publishing ${WARM}s, then the sinks are down for ${OUTAGE}s"
        sleep "$WARM"
        touch "$run/down"
        sleep "$OUTAGE"
        local t0 t1 status=0
        t0=$(now); kill -TERM "$DAEMON"; wait "$DAEMON" || status=$?; t1=$(now)
        stop_servers
        python3 - "$N" "$t0" "$t1" "$status" <<'PY'
import sys
n, t0, t1, status = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
took = t1 - t0
print(f"stop N={n}: all sinks down, SIGTERM -> exit {took:.2f} s "
      f"({took / 5:.2f}x stop_timeout 5 s), exit status {status}")
PY
    done
}

catch_up() {
    local N=$CATCHUP_FEEDS run=$BENCH_DIR/durable-catchup-$CATCHUP_FEEDS
    rm -rf "$run"; mkdir -p "$run"
    start_servers "$run"
    local listen; listen=$(free_port)
    write_config "$run" "$N" "$PROXY_PORT" yes "$listen"
    start_daemon "$run"
    say "catchup, N=$N: publishing ${WARM}s, outage ${CATCHUP_OUTAGE}s, then until the queues are empty"
    sleep "$WARM"
    touch "$run/down"
    sleep "$CATCHUP_OUTAGE"
    local backlog up empty deadline depth
    backlog=$(queue_depth "$listen")
    rm -f "$run/down"; up=$(now)
    deadline=$(python3 -c "print($up + $CATCHUP_LIMIT)")
    empty=""
    while python3 -c "import sys; sys.exit(0 if $(now) < $deadline else 1)"; do
        depth=$(queue_depth "$listen")
        if (( ${depth%% *} <= 2 )); then empty=$(now); break; fi
        sleep 0.5
    done
    kill -TERM "$DAEMON"; wait "$DAEMON" || true
    stop_servers
    python3 - "$N" "$run/daemon.log" "$up" "${empty:-none}" "$backlog" "$CATCHUP_OUTAGE" <<'PY'
import datetime, re, sys
n, log, up, empty, backlog, outage = sys.argv[1:7]
n, up = int(n), float(up)
most, total = backlog.split()
if empty == "none":
    sys.exit(f"catchup N={n}: the queues did not empty (backlog {total} entries at the outage end)")
empty = float(empty)
stored = 0
for line in open(log):
    if "segment stored" not in line:
        continue
    stamp = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
    stored += up <= stamp <= empty
took = empty - up
rate = stored / took if took > 0 else float("nan")
print(f"catchup N={n}: after a {outage} s outage, backlog {total} queue entries "
      f"(largest sink {most}); queues empty after {took:.1f} s; {stored} segments stored, "
      f"{rate:.1f} segments/s = {rate / (n / 2):.1f}x the live rate of {n / 2:.0f}/s")
PY
}

journal_overhead() {
    local N=$JOURNAL_FEEDS
    for state in no yes; do
        local run=$BENCH_DIR/durable-journal-$state
        rm -rf "$run"; mkdir -p "$run"
        start_servers "$run"
        write_config "$run" "$N" "$S3_PORT" "$state"
        start_daemon "$run"
        say "journal, N=$N, state_dir=$state: ${JOURNAL_SECONDS}s"
        sleep "$JOURNAL_SECONDS"
        cpu_seconds "$DAEMON" >"$run/cpu"  # the whole run but its stop
        kill -TERM "$DAEMON"; wait "$DAEMON" || true
        stop_servers
    done
    python3 - "$N" "$BENCH_DIR/durable-journal-no" "$BENCH_DIR/durable-journal-yes" <<'PY'
import re, statistics, sys
n, runs = int(sys.argv[1]), sys.argv[2:]
rows = []
for run in runs:
    log = open(f"{run}/daemon.log").read()
    stored = len(re.findall(r"segment stored", log))
    latencies = [float(v) for v in re.findall(r"playlist published.*?latency_ms=([0-9.]+)", log)]
    cpu = float(open(f"{run}/cpu").read())
    if not stored or not latencies:
        sys.exit(f"journal N={n}: nothing published in {run}")
    rows.append((cpu * 1000 / stored, statistics.median(latencies), stored))
for (cpu, median, stored), label in zip(rows, ["without state_dir", "with state_dir"]):
    print(f"journal N={n} {label}: {stored} segments, CPU {cpu:.2f} ms/segment, "
          f"cut -> playlist stored median {median:.1f} ms")
(c0, m0, _), (c1, m1, _) = rows
print(f"journal N={n}: with/without state_dir: CPU per segment {c1 / c0:.2f}x, "
      f"median publish latency {m1 / m0:.2f}x")
PY
}

for part in "${PARTS[@]}"; do
    case $part in
        stop) stop_time ;;
        catchup) catch_up ;;
        journal) journal_overhead ;;
        *) echo "unknown part $part (stop, catchup, journal)" >&2; exit 1 ;;
    esac
done
