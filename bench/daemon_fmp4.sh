#!/bin/sh
# bench/daemon_fmp4.sh STREAMROUTER INPUT FORMAT — one daemon run (`streamrouter run`) of INPUT
# as a file source read as fast as it goes (not paced), cut at 4 s, published to a local sink as
# FORMAT (ts | fmp4), until the final playlist has EXT-X-ENDLIST; then SIGTERM. For farm-bench:
#   farm-bench -n 5 --timeout 600 --vs "sh bench/daemon_fmp4.sh $R /tmp/x50.ts ts" -- \
#     sh bench/daemon_fmp4.sh $R /tmp/x50.ts fmp4
set -eu
router=$1 input=$2 format=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/bench.toml" <<CONF
[sources.clip]
type = "file"
path = "$input"
[segmenters.clip]
input = "clip"
target_duration = 4
[playlists.clip]
input = "clip"
name = "index.m3u8"
window = 0
segment_format = "$format"
[sinks.out]
type = "local"
inputs = ["clip"]
path = "$dir/out"
CONF
"$router" run "$dir/bench.toml" >/dev/null 2>&1 &
pid=$!
until tail -c 16 "$dir/out/index.m3u8" 2>/dev/null | grep -q ENDLIST; do
  sleep 0.02
done
kill -TERM "$pid"
wait "$pid"
