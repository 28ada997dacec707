#!/usr/bin/env bash
# bench/cluster.sh - feeds shared over several routers through etcd (issue 19).
#
# Usage:  bench/cluster.sh [failover] [writes] [scale] [selftest]   (default: the first three)
#
# Every run: a real etcd 3.4 (/usr/bin/etcd) on free 127.0.0.1 ports with its own data dir,
# routers `streamrouter run CONFIG --listen 127.0.0.1:0` with NODE=a, b, ... on one config,
# feeds = the sample clip (tests/data/h264_aac.ts) looped in real time, 2 s segments,
# 6-entry windows, one local sink into RUN/out. Ownership is read from each router's
# /status (cluster.owned); a feed "advances" when its playlist lists a new number. Release
# build. The driver is bench/cluster.py.
#
#   failover  3 routers, 6 feeds; CLUSTER_KILLS times: SIGKILL the router owning the most
#             feeds, time until every feed is owned by exactly one survivor, and until every
#             feed advances again; the killed router is restarted and the cluster settles
#             before the next kill. min / median / p90 / max of each.
#   writes    3 routers, F feeds for each F in CLUSTER_WRITE_FEEDS: etcd's counters
#             (/metrics) over CLUSTER_WRITE_SECONDS of a settled cluster, per feed per minute:
#             key writes (etcd_mvcc_put_total + etcd_mvcc_delete_total), transactions
#             (etcd_mvcc_txn_total), WAL fsyncs, lease keep-alives.
#   scale     CLUSTER_SCALE_FEEDS feeds (one template line each) over CLUSTER_SCALE_ROUTERS
#             routers, CLUSTER_SCALE_SECONDS once settled: each router's CPU (cores, from
#             /proc/PID/stat) and RSS (VmRSS, VmHWM) and feeds owned; etcd's CPU, RSS, write
#             rates and db size; how long the cluster took to settle.
#   selftest  without the cluster runtime: etcd starts, /health and /metrics answer with the
#             counters above, the configs (6 and 1000 feeds) check with [cluster] removed.
#
# Environment: CLUSTER_KILLS (20), CLUSTER_LEASE ("3s"), CLUSTER_WRITE_FEEDS ("6 100"),
#   CLUSTER_WRITE_SECONDS (60), CLUSTER_SCALE_FEEDS (1000), CLUSTER_SCALE_ROUTERS (4),
#   CLUSTER_SCALE_SECONDS (120), BENCH_DIR (target/bench), CLUSTER_BIN (a streamrouter binary
#   to use instead of the release build, e.g. target/debug/streamrouter for selftest).
# Needs: etcd (Debian etcd-server), python3, cargo. Takes about 20 minutes with the defaults
# (failover ~10, writes ~3, scale ~5). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-target/bench}
PARTS=("$@")
((${#PARTS[@]})) || PARTS=(failover writes scale)
say() { echo "cluster: $*" >&2; }
test -x /usr/bin/etcd || { say "/usr/bin/etcd is missing (apt-get install etcd-server)"; exit 1; }
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
CLIP=$(pwd)/tests/data/h264_aac.ts
if [[ -n ${CLUSTER_BIN:-} ]]; then
    BIN=$(cd "$(dirname "$CLUSTER_BIN")" && pwd)/$(basename "$CLUSTER_BIN")
else
    say "building the release binary"
    cargo build --release -q -p streamrouter --bin streamrouter
    BIN=$(pwd)/target/release/streamrouter
fi
for part in "${PARTS[@]}"; do
    case $part in
        failover | writes | scale | selftest) ;;
        *) say "unknown part $part (failover, writes, scale, selftest)"; exit 2 ;;
    esac
    say "$part"
    python3 bench/cluster.py "$part" "$BENCH_DIR/cluster-$part" "$BIN" "$CLIP"
done
