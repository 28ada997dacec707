#!/usr/bin/env bash
# Seeds fuzz/corpus/TARGET/ from the repo's test inputs (tests/data: clean and damaged TS made by
# scripts/make-test-inputs.sh), shipped configs, and SRT handshakes of real libsrt callers
# (srt-capture.py: ffmpeg and srt-live-transmit through a UDP relay, about 40 s). The corpus is
# made, not committed: run this before `cargo fuzz run`. Inputs that once crashed a target live
# on as unit tests.
set -euo pipefail
cd "$(dirname "$0")"
data=../tests/data
rm -rf corpus && mkdir -p corpus/{ts_segmenter,psi_pes,stream_info,fmp4_remux,config,sink_options,srt_handshake}
for ts in "$data"/*.ts "$data"/*.bin; do
    name=$(basename "$ts")
    # Small pieces keep the fuzzer fast: the start (PAT/PMT, first keyframe) and one from the middle.
    size=$(stat -c %s "$ts")
    { printf '\x20'; head -c 65536 "$ts"; } > "corpus/ts_segmenter/$name.start"
    { printf '\x03'; dd if="$ts" iflag=skip_bytes,count_bytes skip=$((size / 2)) count=65536 status=none; } \
        > "corpus/ts_segmenter/$name.middle"
    head -c 37600 "$ts" > "corpus/stream_info/$name"
    head -c 37600 "$ts" > "corpus/fmp4_remux/$name"
    # A PSI-carrying payload: the bytes after the first packet's 4-byte header.
    dd if="$ts" iflag=skip_bytes,count_bytes skip=4 count=184 status=none > "corpus/psi_pes/$name.first"
done
# fmp4_remux also gets whole cut segments (what the remuxer is really given), the first two of
# every input one by one and joined by the target's segment marker, so that it reaches every
# codec path: tests/data's inputs and clips made here with ffmpeg (H.264 + E-AC-3, H.264 + MP2,
# MP3 alone), cut by `streamrouter segment` (STREAMROUTER, else the debug build).
router=${STREAMROUTER:-../target/debug/streamrouter}
if [ -x "$router" ] && command -v ffmpeg >/dev/null; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    av=(-f lavfi -i testsrc2=size=160x120:rate=25 -f lavfi -i sine=sample_rate=48000 -c:v libx264 -g 25)
    ffmpeg -nostdin -v error -y "${av[@]}" -c:a eac3 -t 4 -f mpegts "$work/h264_eac3.ts"
    ffmpeg -nostdin -v error -y "${av[@]}" -c:a mp2 -t 4 -f mpegts "$work/h264_mp2.ts"
    ffmpeg -nostdin -v error -y -f lavfi -i sine=sample_rate=22050 -c:a libmp3lame -t 4 -f mpegts "$work/mp3.ts"
    for ts in "$data"/*.ts "$work"/*.ts; do
        name=$(basename "$ts" .ts)
        out="$work/cut-$name"
        "$router" segment "$ts" --out "$out" --format ts --target-duration 2 >/dev/null 2>&1 || continue
        mapfile -t segments < <(find "$out" -name '*.ts' | sort | head -n 2)
        [ "${#segments[@]}" -gt 0 ] || continue
        cp "${segments[0]}" "corpus/fmp4_remux/$name.segment"
        if [ "${#segments[@]}" -eq 2 ]; then
            { cat "${segments[0]}"; printf -- '--cut--'; cat "${segments[1]}"; } \
                > "corpus/fmp4_remux/$name.two-segments"
        fi
    done
else
    echo "no $router or ffmpeg: corpus/fmp4_remux has no whole segments" >&2
fi
cp ../configs/*.toml corpus/config/
for conf in ../configs/conf.d/*.toml; do cp "$conf" "corpus/config/conf.d-$(basename "$conf")"; done
printf 'bucket = "live"\nprefix = "cam/"\nregion = "eu-west-3"\n' > corpus/sink_options/s3
printf 'host = "ftp.example.com"\nport = 2121\nuser = "up"\npassword_file = "/etc/p"\ntls = true\n' > corpus/sink_options/ftp
printf 'host = "origin"\nuser = "deploy"\nkey_file = "~/.ssh/id"\ndirectory = "www"\n' > corpus/sink_options/scp
printf 'path = "/srv/live"\n' > corpus/sink_options/local
if command -v ffmpeg >/dev/null && command -v srt-live-transmit >/dev/null; then
    ./srt-capture.py corpus/srt_handshake "$data/h264_aac.ts"
else
    echo "no ffmpeg or srt-live-transmit (Debian srt-tools): corpus/srt_handshake left empty" >&2
fi
echo "corpus: $(find corpus -type f | wc -l) files in $(ls corpus | wc -l) targets"
