#!/usr/bin/env bash
# bench/srt.sh - SRT ingest against UDP ingest: N live 2 Mbit/s feeds in one streamrouter
# process, first over UDP, then over SRT with AES-128, in one run of the script (issue 15).
#
# Usage:  bench/srt.sh
#
#   udp phase  one sender (router/examples/udp_replay.rs) replays the clip in real time,
#              staggered, to N `type = "udp"` feeds (as bench/feeds.sh).
#   srt phase  the same sender replays it to N libsrt callers (`srt-live-transmit`, Debian
#              srt-tools, one process per feed), each relaying its datagrams to the daemon's
#              N `type = "srt"` listener sources: all on one port, routed by stream id
#              (SRT_PORTS=shared, the default) or one port per feed (SRT_PORTS=each); every
#              feed has its own passphrase (AES-128, the callers' pbkeylen=16). The replay
#              starts once every caller is connected (/metrics streamrouter_srt_connected).
#
# Per phase, of the daemon process only: CPU (user+sys over the replay's wall time, in cores,
# and in % of a core per Mbit/s received), peak RSS (VmHWM) per feed, both over N and above
# the same daemon's RSS before any byte arrived (sockets bound, SRT callers not yet
# connected); lost packets: TS packets sent minus those that reached the segmenters
# (/metrics streamrouter_feed_bytes_in_total / 188), continuity errors, and for SRT the daemon's
# streamrouter_srt_* counters (received, loss reports, retransmitted, dropped); the machine's
# UDP receive-buffer drops during the replay: on the daemon's sockets, on the callers' and on
# the whole machine (/proc/net/udp drops, /proc/net/snmp RcvbufErrors); feeds without a
# playlist and late feeds (bench/outcome.py). Also the sender's and the callers' CPU, and the
# ratios SRT/UDP. The report is also written to BENCH_DIR/srt-report.txt.
#
# Environment:
#   SRT_FEEDS      N (default 100)
#   SRT_SECONDS    replay length per phase (default 60; the script then takes about 3 min)
#   SRT_PORTS      shared | each (default shared)
#   SRT_BASE_PORT  first UDP port of the sender's streams (default 42000)
#   SRT_PORT       the daemon's SRT port, first one with SRT_PORTS=each (default 9100)
#   SRT_LATENCY    SRT latency in ms, the daemon's and the callers' (default 120, libsrt's)
#   BENCH_DIR      scratch dir (default target/bench)
# Needs: ffmpeg (to make the clip once), srt-live-transmit, cargo, python3, curl, ss
# (iproute2), /usr/bin/time. Shared pieces: bench/lib.sh, bench/outcome.py. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${SRT_FEEDS:-100}
SECONDS_PER_PHASE=${SRT_SECONDS:-60}
SRT_PORTS=${SRT_PORTS:-shared}
BASE_PORT=${SRT_BASE_PORT:-42000}
SRT_PORT=${SRT_PORT:-9100}
LATENCY=${SRT_LATENCY:-120}
BENCH_DIR=${BENCH_DIR:-target/bench}
say() { echo "srt: $*" >&2; }
[[ $SRT_PORTS == shared || $SRT_PORTS == each ]] || { say "SRT_PORTS is shared or each"; exit 2; }
command -v srt-live-transmit >/dev/null || { say "needs srt-live-transmit (Debian srt-tools)"; exit 2; }
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
# shellcheck source=bench/lib.sh
source bench/lib.sh
make_clip $((SECONDS_PER_PHASE + 10))
build_release
CLK=$(getconf CLK_TCK)

PID=""
RELAYS=()
cleanup() {
    for pid in "${RELAYS[@]}" $PID; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# busy and total jiffies of the whole machine (all cores), from /proc/stat.
machine_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
rcvbuf_errors() { awk '/^Udp:/ { if (++n == 2) print $6 }' /proc/net/snmp; }
metric() { curl -s "http://127.0.0.1:$LISTEN/metrics" | awk -v name="$1" '$1 ~ "^" name "([{]|$)" { s += $2 } END { print s + 0 }'; }
relay_ticks() {
    local sum=0 pid
    for pid in "${RELAYS[@]}"; do sum=$((sum + $(ticks "$pid" 2>/dev/null || echo 0))); done
    echo "$sum"
}

# phase KIND: one daemon, N feeds of KIND (udp | srt), SECONDS_PER_PHASE of replay; writes
# BENCH_DIR/srt-KIND/measure.txt (key=value) and metrics.txt.
phase() {
    local kind=$1 run=$BENCH_DIR/srt-$1 target=$BASE_PORT
    rm -rf "$run"; mkdir -p "$run/out" "$run/relay"
    LISTEN=$(free_port)
    local config_port=$BASE_PORT
    [[ $kind == srt ]] && config_port=$SRT_PORT
    write_feeds_config "$kind" "$N" "$config_port" "$run" "$LISTEN" "$SRT_PORTS" "$LATENCY" >"$run/feeds.toml"
    say "$kind: starting the daemon with $N feeds"
    start_daemon "$run" "$run/feeds.toml"
    local measure=$run/measure.txt
    if [[ $kind == srt ]]; then
        local ports=1
        [[ $SRT_PORTS == each ]] && ports=$N
        for _ in $(seq 100); do
            (($(grep -c "SRT listening" "$run/daemon.log") >= ports)) && break; sleep 0.1
        done
    fi
    sleep 1
    echo "idle_kb=$(vm_kb "$PID" VmRSS)" >"$measure"
    if [[ $kind == srt ]]; then
        say "srt: starting $N srt-live-transmit callers"
        local t_connect i port
        t_connect=$(now)
        RELAYS=()
        for ((i = 0; i < N; i++)); do
            port=$SRT_PORT
            [[ $SRT_PORTS == each ]] && port=$((SRT_PORT + i))
            local feed; feed=$(printf 'f%04d' "$i")
            srt-live-transmit -s:500 -pf:json -f -statsout:"$run/relay/$feed.stats" \
                "udp://127.0.0.1:$((BASE_PORT + i))" \
                "srt://127.0.0.1:$port?streamid=$feed&passphrase=bench-$feed-secret&pbkeylen=16&latency=$LATENCY" \
                </dev/null >"$run/relay/$feed.log" 2>&1 &
            RELAYS+=($!)
        done
        local connected=0
        for _ in $(seq 600); do
            connected=$(metric streamrouter_srt_connected)
            ((connected >= N)) && break; sleep 0.1
        done
        echo "connected=$connected" >>"$measure"
        echo "connect_s=$(python3 -c "print($(now) - $t_connect)")" >>"$measure"
        ((connected >= N)) || say "srt: only $connected of $N callers connected; replaying anyway"
        sleep 1
        echo "connected_kb=$(vm_kb "$PID" VmRSS)" >>"$measure"
    fi
    local t0 c0 r0 u0 t1 c1 r1 u1 m0 m1
    m0=$(machine_jiffies); u0=$(rcvbuf_errors); r0=$(relay_ticks); t0=$(now); c0=$(ticks "$PID")
    say "$kind: replaying for ${SECONDS_PER_PHASE}s"
    /usr/bin/time -f "replay_cpu_s=%U+%S" -o "$run/replay.time" \
        "$REPLAY" "$CLIP" "$target" "$N" "$SECONDS_PER_PHASE" >"$run/replay.log"
    t1=$(now); c1=$(ticks "$PID"); r1=$(relay_ticks); u1=$(rcvbuf_errors); m1=$(machine_jiffies)
    # Let the last packets through the SRT latency and the next statistics report.
    sleep 3
    curl -s "http://127.0.0.1:$LISTEN/metrics" >"$run/metrics.txt"
    # The daemon's UDP sockets with their buffer sizes (skmem rb = receive buffer, d = drops).
    ss -uamnp 2>/dev/null | grep -A1 "pid=$PID," >"$run/sockets.txt" || true
    {
        echo "wall_s=$(python3 -c "print($t1 - $t0)")"
        echo "daemon_ticks=$((c1 - c0))"
        echo "relay_ticks=$((r1 - r0))"
        echo "rcvbuf_errors=$((u1 - u0))"
        echo "machine_busy=$(awk -v a="$m0" -v b="$m1" -v cores="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " "); print cores * (y[1] - x[1]) / (y[2] - x[2]) }')"
        echo "load=$(cut -d' ' -f1 /proc/loadavg)"
        echo "hwm_kb=$(vm_kb "$PID" VmHWM)"
        echo "daemon_udp_drops=$(python3 bench/outcome.py drops "$PID")"
        echo "relay_udp_drops=$(python3 bench/outcome.py drops "${RELAYS[@]}")"
        echo "relays_alive=$(for p in "${RELAYS[@]}"; do kill -0 "$p" 2>/dev/null && echo; done | wc -l)"
        cat "$run/replay.time"
    } >>"$measure"
    for pid in "${RELAYS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${RELAYS[@]}"; do wait "$pid" 2>/dev/null || true; done
    RELAYS=()
    stop_daemon
    PID=""
}

phase udp
phase srt

python3 - "$BENCH_DIR" "$N" "$SECONDS_PER_PHASE" "$CLK" "$SRT_PORTS" "$LATENCY" <<'PY' | tee "$BENCH_DIR/srt-report.txt"
import glob, json, re, sys
sys.path.insert(0, "bench")
from outcome import segments, metric_sums
bench, n, seconds, clk, ports, latency = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
rows = {}
for kind in ("udp", "srt"):
    run = f"{bench}/srt-{kind}"
    m = dict(line.strip().split("=", 1) for line in open(f"{run}/measure.txt") if "=" in line)
    replay = open(f"{run}/replay.log").read()
    sent = int(re.search(r"sent (\d+) datagrams", replay).group(1))
    mbps = float(re.search(r"at ([\d.]+) Mbit/s", replay).group(1))
    metrics = metric_sums(f"{run}/metrics.txt")
    wall = float(m["wall_s"])
    cores = int(m["daemon_ticks"]) / clk / wall
    hwm, idle = int(m["hwm_kb"]) / 1024, int(m["idle_kb"]) / 1024
    bytes_in = metrics.get("streamrouter_feed_bytes_in_total", 0)
    rows[kind] = r = dict(
        m=m, replay=replay.strip(), out=segments(run, n, seconds), metrics=metrics, cores=cores,
        per_mbps=cores * 100 / (n * mbps), hwm=hwm, idle=idle, per_feed=(hwm - idle) / n,
        total_per_feed=hwm / n, lost=(sent * 1316 - bytes_in) / 188, sent=sent, mbps=mbps,
        relay=int(m["relay_ticks"]) / clk / wall,
        replay_cores=sum(map(float, m["replay_cpu_s"].split("+"))) / wall)
print(f"# bench/srt.sh: {n} feeds x {rows['udp']['mbps']:.2f} Mbit/s, {seconds:.0f} s per phase, "
      f"SRT listeners on {'one port (stream ids)' if ports == 'shared' else 'one port per feed'}, AES-128, "
      f"latency {latency} ms")
print("| ingest | daemon CPU | % core per Mbit/s | peak RSS | per feed above idle | per feed (total/N) "
      "| lost TS packets | CC errors | kernel drops: daemon / callers / machine | late / missing feeds |")
print("|---|---|---|---|---|---|---|---|---|---|")
for kind, r in rows.items():
    print(f"| {kind} | {r['cores']:.3f} cores | {r['per_mbps']:.3f} | {r['hwm']:.1f} MB (idle {r['idle']:.1f}) "
          f"| {r['per_feed']:.2f} MB | {r['total_per_feed']:.2f} MB | {r['lost']:.0f} of {r['sent'] * 7} "
          f"| {r['out']['cc']} | {r['m']['daemon_udp_drops']} / {r['m']['relay_udp_drops'] if kind == 'srt' else '-'} / {r['m']['rcvbuf_errors']} "
          f"| {r['out']['late']} / {r['out']['missing']} |")
s, u = rows["srt"], rows["udp"]
sm = s["metrics"]
print(f"SRT counters (sum over feeds): received {sm.get('streamrouter_srt_packets_received_total', 0):.0f}, "
      f"loss reports {sm.get('streamrouter_srt_loss_reports_total', 0):.0f}, "
      f"retransmitted {sm.get('streamrouter_srt_packets_retransmitted_total', 0):.0f}, "
      f"dropped {sm.get('streamrouter_srt_packets_dropped_total', 0):.0f}; "
      f"connected {s['m'].get('connected')}/{n} in {float(s['m'].get('connect_s', 0)):.1f} s "
      f"(RSS {int(s['m'].get('connected_kb', 0)) / 1024:.1f} MB connected, idle); "
      f"callers alive at the end {s['m']['relays_alive']}/{n}")
# The callers' own view (libsrt totals, last report of each, every 500 packets).
sender = {"packets": 0, "packetsLost": 0, "packetsRetransmitted": 0, "packetsDropped": 0}
for path in glob.glob(f"{bench}/srt-srt/relay/*.stats"):
    lines = [line for line in open(path) if line.startswith("{")]
    if lines:
        send = json.loads(lines[-1])["send"]
        for key in sender:
            sender[key] += send[key]
print(f"callers (libsrt, last report each): sent {sender['packets']}, reported lost {sender['packetsLost']}, "
      f"retransmitted {sender['packetsRetransmitted']}, dropped by the sender (too late) {sender['packetsDropped']}")
print(f"ratios SRT/UDP: CPU {s['cores'] / u['cores']:.2f}x, per Mbit/s {s['per_mbps'] / u['per_mbps']:.2f}x, "
      f"peak RSS {s['hwm'] / u['hwm']:.2f}x, RSS per feed above idle {s['per_feed'] / u['per_feed']:.2f}x")
print(f"machine (all processes, {n} feeds): {float(u['m']['machine_busy']):.2f} of 2 cores busy in the udp phase "
      f"(load {u['m']['load']}), {float(s['m']['machine_busy']):.2f} in the srt phase (load {s['m']['load']})")
print(f"sender (udp_replay): {u['replay_cores']:.3f} cores (udp), {s['replay_cores']:.3f} cores (srt); "
      f"{n} srt-live-transmit callers: {s['relay']:.3f} cores "
      f"({s['relay'] * 100 / (n * s['mbps']):.3f} % core per Mbit/s)")
for kind, r in rows.items():
    print(f"  {kind} replay: {r['replay']}; segmenters stopped cleanly {r['out']['stopped']}/{n}")
PY
[[ ${BENCH_KEEP_OUTPUT:-0} == 1 ]] || rm -rf "$BENCH_DIR/srt-udp/out" "$BENCH_DIR/srt-srt/out"
