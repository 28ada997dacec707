#!/usr/bin/env bash
# bench/reload.sh - hot reload of a 1000-feed config with one feed changed.
#
# Usage:  bench/reload.sh [N]             (default: 1000)
#
# Writes a config with N UDP feeds (one template, one line per feed, each line carrying the
# feed's playlist `window`; nobody sends, so nothing but the reload runs), starts
# `streamrouter run` on it and waits for `graph running`. Then, RELOAD_RUNS times, changes the
# window of one feed (the middle one; 6 and 8 in turn) by a one-line edit saved like an editor
# does (write a temporary file in the same directory, rename it over the config), and reads
# the daemon's log for the `config reloaded` line of the next generation. Reports:
#   - write → applied: from the rename (python's time.time()) to the timestamp of the
#     `config reloaded` line (tracing's UTC timestamps, same clock), split into write →
#     `config changed: reload requested` (the watcher's debounce) and that → applied;
#   - the daemon's own `elapsed_ms` (trigger received → applied);
#   - the share of reloads under 200 ms (the issue's target, write → applied);
#   - the proof that the other N-1 feeds were untouched: every `changes=` summary must be
#     exactly `1 changed, 0 added, 0 removed, 4N-1 unchanged` naming the edited feed, and no
#     log line between one edit and the next may name another feed (a restarted source logs
#     `receiving UDP`, an ended playlist `playlist ended`, …, all inside their node's span);
#   - the control: wall time of `streamrouter check CONFIG` on the same file (the compile of
#     the whole config in a fresh process), RELOAD_CHECKS times, and the ratios to it;
#   - the daemon's start time (spawn → `graph running`) and RSS before and after the reloads.
# Per-edit times go to BENCH_DIR/reload-N/reloads.csv. Exits 1 when a reload is missing, refused, or touched another feed.
#
# Environment:
#   BENCH_DIR         scratch dir (default target/bench)
#   RELOAD_RUNS       edits (default 20)
#   RELOAD_PAUSE      seconds between one reload applied and the next edit (default 1)
#   RELOAD_CHECKS     timed `streamrouter check` runs (default 5)
#   RELOAD_BASE_PORT  first UDP port (default 42000; N ports from there must be free)
# Needs: cargo, python3 (3.11+).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
N=${1:-1000}
RUNS=${RELOAD_RUNS:-20}
PAUSE=${RELOAD_PAUSE:-1}
CHECKS=${RELOAD_CHECKS:-5}
BASE_PORT=${RELOAD_BASE_PORT:-42000}
say() { echo "reload: $*" >&2; }

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
say "building the release binary"
cargo build --release -q -p streamrouter --bin streamrouter
BIN=$(pwd)/target/release/streamrouter

RUN=$BENCH_DIR/reload-$N
rm -rf "$RUN"; mkdir -p "$RUN/conf" "$RUN/out"
CONFIG=$RUN/conf/feeds.toml
python3 - "$N" "$BASE_PORT" "$RUN" >"$CONFIG" <<'PY'
import sys
n, base, run = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print("feeds = [")
for i in range(n):
    print(f'  {{ template = "udp", name = "ch{i:04d}", port = {base + i}, window = 6 }},')
print("]\n")
# A variable that is a whole string keeps its type: `window = "{{window}}"` is the feed's integer.
print(f'''[templates.udp]
sources.in = {{ type = "udp", bind = "127.0.0.1:{{{{port}}}}" }}
segmenters.seg = {{ input = "in", target_duration = 4 }}
playlists.hls = {{ input = "seg", name = "{{{{feed}}}}/index.m3u8", segment_name = "{{{{feed}}}}/s-{{seq:05}}.ts", window = "{{{{window}}}}" }}
sinks.web = {{ type = "local", inputs = ["hls"], path = "{run}/out" }}''')
PY
say "N=$N: $(wc -c <"$CONFIG") bytes of config; timing \`streamrouter check\` x$CHECKS"
CHECK_MS=$(python3 - "$BIN" "$CONFIG" "$CHECKS" <<'PY'
import statistics, subprocess, sys, time
bin_, config, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    subprocess.run([bin_, "check", config], check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t0) * 1000)
print(" ".join(f"{t:.1f}" for t in times))
PY
)

say "N=$N: starting the daemon"
T0=$(date +%s.%N)
RUST_LOG=info "$BIN" run "$CONFIG" >"$RUN/stdout.log" 2>"$RUN/daemon.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    grep -q "graph running" "$RUN/daemon.log" && break
    kill -0 "$PID" 2>/dev/null || { cat "$RUN/daemon.log" >&2; say "the daemon exited"; exit 1; }
    sleep 0.05
done
T1=$(date +%s.%N)
grep -q "graph running" "$RUN/daemon.log" || { say "no \`graph running\` after 30 s"; exit 1; }
if grep -q "cannot open UDP socket" "$RUN/daemon.log"; then
    say "some UDP ports from $BASE_PORT are taken (set RELOAD_BASE_PORT)"; exit 1
fi
# `graph running` comes when the tasks are spawned; the sources bind their sockets after it.
for _ in $(seq 600); do
    (($(grep -c "receiving UDP" "$RUN/daemon.log") >= N)) && break
    sleep 0.05
done
T2=$(date +%s.%N)
sleep 1  # let the 4N tasks settle before the first edit
RSS_START=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")

say "N=$N: $RUNS edits, ${PAUSE}s apart"
set +e
python3 - "$N" "$CONFIG" "$RUN/daemon.log" "$RUNS" "$PAUSE" "$PID" "$CHECK_MS" \
    "$T0" "$T1" "$T2" "$RSS_START" <<'PY'
import datetime, math, os, re, statistics, sys, time
n, config, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
runs, pause, pid = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
check_ms = [float(v) for v in sys.argv[7].split()]
t_spawn, t_running, t_receiving = map(float, sys.argv[8:11])
rss_start_kb = int(sys.argv[11])
changed = f"ch{n // 2:04d}"
expected = f"1 changed, 0 added, 0 removed, {4 * n - 1} unchanged"

def stamp(line):
    """The epoch seconds of a tracing fmt line (`2026-11-25T10:00:00.123456Z  INFO …`)."""
    try:
        return datetime.datetime.fromisoformat(line.split(None, 1)[0]).timestamp()
    except (ValueError, IndexError):
        return None

log = open(log_path, "rb")
log.seek(0, os.SEEK_END)
pending = b""

def new_lines():
    global pending
    data = pending + log.read()
    *lines, pending = data.split(b"\n")
    return [line.decode(errors="replace") for line in lines]

def generation_now():
    with open(log_path, errors="replace") as f:
        found = re.findall(r"config reloaded.*?generation=(\d+)", f.read())
    return int(found[-1]) if found else 1

text = open(config).read()
line_re = re.compile(rf'^(  {{ template = "udp", name = "{changed}", .*window = )(\d+)( }},)$', re.M)
generation = generation_now()
results, failures, strays, rss_kb, own_lines = [], [], [], [], 0
for run in range(runs):
    window = 8 if int(line_re.search(text).group(2)) == 6 else 6
    text = line_re.sub(rf"\g<1>{window}\g<3>", text)
    tmp = os.path.join(os.path.dirname(config), ".feeds.toml.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, config)
    t_write = time.time()
    generation += 1
    window_lines, applied, trigger, deadline = [], None, None, t_write + 10
    while applied is None and time.time() < deadline:
        for line in new_lines():
            window_lines.append(line)
            if "config changed: reload requested" in line and trigger is None:
                trigger = stamp(line)
            elif "config reloaded" in line and f"generation={generation}" in line:
                applied = line
            elif "config unchanged" in line or "reload refused" in line:
                failures.append(f"edit {run + 1}: {line}")
                deadline = 0
        if applied is None:
            time.sleep(0.002)
    t_seen = time.time()
    if applied is None:
        if deadline:
            failures.append(f"edit {run + 1}: no `config reloaded generation={generation}` in 10 s")
        generation = generation_now()
        time.sleep(pause)
        continue
    summary = re.search(r'changes="((?:[^"\\]|\\.)*)"', applied) or re.search(r"changes=(.*?) \w+=", applied)
    summary = summary.group(1) if summary else "?"
    if not summary.startswith(expected) or changed not in summary:
        failures.append(f"edit {run + 1}: changes={summary!r}, expected {expected!r} naming {changed}")
    elapsed = re.search(r"elapsed_ms=([0-9.]+)", applied)
    t_applied = stamp(applied)
    results.append({
        "write_applied": (t_applied - t_write) * 1000,
        "write_trigger": (trigger - t_write) * 1000 if trigger else math.nan,
        "trigger_applied": (t_applied - trigger) * 1000 if trigger else math.nan,
        "elapsed": float(elapsed.group(1)) if elapsed else math.nan,
        "seen": (t_seen - t_write) * 1000,
        "summary": summary,
    })
    # Whatever the daemon logs until the next edit belongs to this reload too.
    time.sleep(pause)
    window_lines += new_lines()
    for line in window_lines:
        feeds = set(re.findall(r"\bch\d{4}\b", line))
        if feeds - {changed}:
            strays.append(f"edit {run + 1}: {line}")
        elif feeds:
            own_lines += 1
    rss_kb.append(int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)))

with open(os.path.join(os.path.dirname(log_path), "reloads.csv"), "w") as f:
    f.write("write_applied_ms,write_trigger_ms,trigger_applied_ms,elapsed_ms,rss_kb\n")
    for r, rss in zip(results, rss_kb):
        f.write(f"{r['write_applied']:.2f},{r['write_trigger']:.2f},{r['trigger_applied']:.2f},"
                f"{r['elapsed']:.2f},{rss}\n")
status = open(f"/proc/{pid}/status").read()
rss_end_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
hwm_kb = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))

def p90(values):
    values = sorted(values)
    return values[max(0, math.ceil(0.9 * len(values)) - 1)]

def row(name, key):
    values = [r[key] for r in results if not math.isnan(r[key])]
    if not values:
        return f"  {name}: -"
    return (f"  {name}: median {statistics.median(values):.1f} ms, p90 {p90(values):.1f} ms, "
            f"min {min(values):.1f}, max {max(values):.1f}")

check = statistics.median(check_ms)
print(f"N={n} feeds ({4 * n} nodes), {runs} edits of {changed}'s window (6 <-> 8), {len(results)} applied")
print(f"  daemon start: spawn -> graph running {(t_running - t_spawn) * 1000:.0f} ms, "
      f"-> all {n} sources receiving {(t_receiving - t_spawn) * 1000:.0f} ms; "
      f"RSS {rss_start_kb / 1024:.1f} MB at start, {rss_end_kb / 1024:.1f} MB after the reloads, "
      f"peak {hwm_kb / 1024:.1f} MB")
if rss_kb:
    marks = sorted({1, len(rss_kb) // 4, len(rss_kb) // 2, 3 * len(rss_kb) // 4, len(rss_kb)} - {0})
    print("  RSS after reload " + ", ".join(f"{i}: {rss_kb[i - 1] / 1024:.1f} MB" for i in marks))
print(f"  `streamrouter check` (fresh process, compile only): median {check:.1f} ms "
      f"({', '.join(f'{v:.0f}' for v in check_ms)})")
if results:
    wa = [r["write_applied"] for r in results]
    el = [r["elapsed"] for r in results if not math.isnan(r["elapsed"])]
    print(row("write -> applied        ", "write_applied"))
    print(row("  write -> trigger (debounce)", "write_trigger"))
    print(row("  trigger -> applied    ", "trigger_applied"))
    print(row("elapsed_ms (daemon)     ", "elapsed"))
    print(row("write -> line seen (poll)", "seen"))
    under = sum(1 for v in wa if v < 200)
    print(f"  under 200 ms (write -> applied): {under}/{len(wa)}")
    if el:
        print(f"  ratios: elapsed_ms / check {statistics.median(el) / check:.2f}x, "
              f"write -> applied / check {statistics.median(wa) / check:.2f}x")
    print(f"  changes (last): {results[-1]['summary']}")
print(f"  untouched: {sum(1 for r in results if r['summary'].startswith(expected))}/{len(results)} summaries "
      f"are '{expected}'; log lines naming another feed: {len(strays)} "
      f"(naming {changed}: {own_lines})")
for line in (failures + strays)[:20]:
    print(f"  FAIL {line}")
sys.exit(1 if failures or strays or len(results) < runs else 0)
PY
STATUS=$?
set -e
kill -TERM "$PID"; wait "$PID" || true
trap - EXIT
exit "$STATUS"
