#!/usr/bin/env bash
# make-test-inputs.sh - (re)generate the small MPEG-TS test inputs of streamrouter.
#
# Usage:  scripts/make-test-inputs.sh [OUT_DIR]      (default: tests/data)
#
# Makes (all 320x240, low bitrate, each well under 600 KB; see tests/data/README.md):
#   h264_aac.ts  hevc_ac3.ts  mpeg2_mp2.ts  aac_only.ts  irregular_gop.ts
#   long_gop.ts  ptswrap.ts   concat.ts     midgop.ts
#   loss.ts  garbage.ts  truncated.ts  not_ts.bin   (damaged by scripts/damage_ts.py)
#
# Needs: ffmpeg + ffprobe (with libx264, libx265, aac, ac3, mp2, mpeg2video and
# the lavfi sources; drawtext + DejaVu Sans Mono for the frame counter, optional),
# python3 (stdlib only).
#
# Idempotent: every run regenerates all files from scratch (in a temporary
# directory, moved into place only after each file has been checked).
# Deterministic: bitexact flags, single-threaded x264 (multi-threaded x264
# rate control is not reproducible), fixed seeds for all damage. Output is
# byte-identical between runs with the same ffmpeg/x264/x265 versions.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=${1:-$ROOT/tests/data}
DAMAGE=(python3 "$HERE/damage_ts.py")

die() { echo "make-test-inputs: error: $*" >&2; exit 1; }
warn() { echo "make-test-inputs: warning: $*" >&2; }

for tool in ffmpeg ffprobe python3; do
    command -v "$tool" >/dev/null || die "'$tool' not found (apt-get install ffmpeg python3)"
done
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null)
for enc in libx264 libx265 aac ac3 mp2 mpeg2video; do
    grep -qE "^ [A-Z.]{6} $enc " <<<"$encoders" || die "ffmpeg lacks the '$enc' encoder"
done

mkdir -p "$OUT"
TMP=$(mktemp -d "$OUT/.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------- sources ---
# Frame counter overlay if drawtext and a font are available. (Without it the
# files are still valid, just not byte-identical to the committed ones.)
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
COUNTER=""
filters=$(ffmpeg -hide_banner -filters 2>/dev/null)
if [[ -f $FONT ]] && grep -q ' drawtext ' <<<"$filters"; then
    COUNTER=",drawtext=fontfile=$FONT:text='%{frame_num}':x=8:y=8:fontsize=28:fontcolor=white:box=1:boxcolor=black"
else
    warn "no drawtext/DejaVu font: test pattern without frame counter"
fi

# video PATTERN DURATION -> lavfi source string (25 fps, 320x240)
video() { echo "$1=s=320x240:r=25:d=$2$COUNTER"; }
# audio FREQ DURATION -> 48 kHz sine with a beep every second
audio() { echo "sine=f=$1:b=4:r=48000:d=$2"; }

FF=(ffmpeg -nostdin -hide_banner -v error -y -fflags +bitexact)
X264=(-c:v libx264 -threads 1 -preset veryfast -profile:v high -bf 3
      -crf 32 -maxrate 200k -bufsize 400k -pix_fmt yuv420p -flags:v +bitexact)
AAC=(-c:a aac -b:a 64k -ac 2 -flags:a +bitexact)

# h264_aac OUT DURATION [extra output options...]; testsrc2 + 440 Hz.
# Set PATTERN/FREQ to change the source.
h264_aac() {
    local out=$1 dur=$2; shift 2
    "${FF[@]}" -f lavfi -i "$(video "${PATTERN:-testsrc2}" "$dur")" \
        -f lavfi -i "$(audio "${FREQ:-440}" "$dur")" -map 0:v -map 1:a \
        "${X264[@]}" "${AAC[@]}" "$@" -f mpegts "$out"
}

# ------------------------------------------------------------- encodings ---
echo "== encoding into $OUT"
GOP2S=(-g 50 -keyint_min 50 -sc_threshold 0)

h264_aac "$TMP/h264_aac.ts" 12 "${GOP2S[@]}"

"${FF[@]}" -f lavfi -i "$(video testsrc2 10)" -f lavfi -i "$(audio 440 10)" \
    -map 0:v -map 1:a \
    -c:v libx265 -preset fast -crf 32 -g 50 -pix_fmt yuv420p -flags:v +bitexact \
    -x265-params log-level=error:scenecut=0 \
    -c:a ac3 -b:a 96k -ac 2 -flags:a +bitexact -f mpegts "$TMP/hevc_ac3.ts"

"${FF[@]}" -f lavfi -i "$(video testsrc2 10)" -f lavfi -i "$(audio 440 10)" \
    -map 0:v -map 1:a \
    -c:v mpeg2video -g 25 -b:v 200k -maxrate 300k -bufsize 600k -pix_fmt yuv420p \
    -flags:v +bitexact \
    -c:a mp2 -b:a 96k -ac 2 -flags:a +bitexact -f mpegts "$TMP/mpeg2_mp2.ts"

"${FF[@]}" -f lavfi -i "$(audio 440 10)" -map 0:a "${AAC[@]}" \
    -f mpegts "$TMP/aac_only.ts"

h264_aac "$TMP/irregular_gop.ts" 12 -g 1000 -sc_threshold 0 \
    -force_key_frames "0,1.3,4.1,5,8.7,10.2"

h264_aac "$TMP/long_gop.ts" 16 -g 150 -keyint_min 150 -sc_threshold 0

# 2^33 / 90000 = 95443.7177 s. The mpegts muxer starts at +1.4 s (muxdelay),
# so with this offset the first PTS is 95436.7 s and the 33-bit PTS/DTS/PCR
# wrap ~7.02 s into the file, in the middle of the GOP starting at 6 s.
h264_aac "$TMP/ptswrap.ts" 12 "${GOP2S[@]}" -output_ts_offset 95435.3

# two independent encodes, byte-wise concatenated: different pattern/tone,
# second one's timestamps start ~1000 s later, continuity counters restart.
h264_aac "$TMP/concat_a.ts" 6 "${GOP2S[@]}"
PATTERN=testsrc FREQ=880 h264_aac "$TMP/concat_b.ts" 6 "${GOP2S[@]}" -output_ts_offset 1000
cat "$TMP/concat_a.ts" "$TMP/concat_b.ts" >"$TMP/concat.ts"
rm "$TMP/concat_a.ts" "$TMP/concat_b.ts"

# ---------------------------------------------------------------- damage ---
echo "== damaging copies of h264_aac.ts"
SRC=$TMP/h264_aac.ts
"${DAMAGE[@]}" drop "$SRC" "$TMP/loss1.ts" --fraction 0.01 --seed 1
"${DAMAGE[@]}" cc-corrupt "$TMP/loss1.ts" "$TMP/loss.ts" --count 5 --seed 2
rm "$TMP/loss1.ts"
"${DAMAGE[@]}" garbage "$SRC" "$TMP/garbage.ts" --count 20 --min-size 1 --max-size 400 --seed 3
"${DAMAGE[@]}" truncate "$SRC" "$TMP/truncated.ts" --fraction 0.7

# midgop: start one TS packet after the start of the video frame at ~1.0 s
# (mid-GOP and mid-PES: the first video packet has no payload_unit_start).
midpos=$(ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,pos \
    -of csv=p=0 "$SRC" | python3 -c '
import sys
rows = [tuple(map(float, l.split(",")[:2])) for l in sys.stdin if l.strip()]
t0 = min(t for t, _ in rows)
print(int(min(rows, key=lambda r: abs(r[0] - t0 - 1.0))[1]) + 188)')
"${DAMAGE[@]}" skip-to "$SRC" "$TMP/midgop.ts" --offset "$midpos"

"${DAMAGE[@]}" not-ts "$TMP/not_ts.bin" --size 65536 --seed 4

# ---------------------------------------------------------------- verify ---
# keyframes FILE -> video keyframe PTS (s), relative to the PTS of the first
# video packet ffprobe returns, with the 33-bit wrap undone.
keyframes() {
    ffprobe -v error -correct_ts_overflow 0 -select_streams v:0 \
        -show_entries packet=pts,flags -of csv=p=0 "$1" | python3 -c '
import sys
base = prev = None; off = 0; out = []
for line in sys.stdin:
    f = line.strip().split(",")
    if len(f) < 2 or f[0] in ("", "N/A"):
        continue
    pts = int(f[0])
    if prev is not None and pts < prev - (1 << 32):
        off += 1 << 33
    prev = pts
    if base is None:
        base = pts + off
    if "K" in f[1]:
        out.append("%g" % round((pts + off - base) / 90000, 3))
print(" ".join(out) if out else "-")'
}

# codecs FILE -> "h264,aac" (top-level streams only; csv output would repeat
# them once more under the program)
codecs() {
    ffprobe -v error -show_entries stream=codec_name -of json "$1" | python3 -c '
import json, sys
print(",".join(s.get("codec_name", "?") for s in json.load(sys.stdin).get("streams", [])))'
}

check() { # FILE EXPECTED_CODECS [soft]
    local f=$TMP/$1 want=$2 got
    got=$(codecs "$f" 2>/dev/null || true)
    if [[ $got != "$want" ]]; then
        if [[ ${3:-} == soft ]]; then
            warn "$1: ffprobe sees '$got', expected '$want'"
        else
            die "$1: ffprobe sees '$got', expected '$want'"
        fi
    fi
}

echo "== verifying"
for f in h264_aac irregular_gop long_gop ptswrap concat midgop; do check $f.ts h264,aac; done
check hevc_ac3.ts hevc,ac3
check mpeg2_mp2.ts mpeg2video,mp2
check aac_only.ts aac
for f in loss garbage truncated; do check $f.ts h264,aac soft; done
if ffprobe -v error -f mpegts "$TMP/not_ts.bin" >/dev/null 2>&1 \
   && [[ -n $(codecs "$TMP/not_ts.bin" 2>/dev/null) ]]; then
    die "not_ts.bin is recognised as MPEG-TS"
fi
(( $(stat -c %s "$TMP/truncated.ts") % 188 != 0 )) || die "truncated.ts ends on a packet boundary"
(( $(stat -c %s "$TMP/midgop.ts") % 188 == 0 )) || die "midgop.ts is not packet aligned"

# the raw (uncorrected) PES PTS of ptswrap.ts must jump back by ~2^33
# (first wrap per PID; with B-frames the decode-order PTS can go back and
# forth across the wrap for a frame or two)
wraps=$("${DAMAGE[@]}" pes-pts "$TMP/ptswrap.ts" | awk -F'\t' '
    ($2 in last) && !($2 in done) && $3 < last[$2] - 4294967296 {
        printf "pid %s at byte %s: PTS %s -> %s; ", $2, $1, last[$2], $3; done[$2] = 1 }
    { last[$2] = $3 }')
[[ -n $wraps ]] || die "ptswrap.ts: PTS does not wrap"

# expected keyframe times (relative, seconds)
expect_kf() { # FILE "TIMES"
    local got; got=$(keyframes "$TMP/$1")
    [[ $got == "$2" ]] || die "$1: keyframes at '$got', expected '$2'"
}
expect_kf h264_aac.ts "0 2 4 6 8 10"
expect_kf hevc_ac3.ts "0 2 4 6 8"
expect_kf long_gop.ts "0 6 12"
expect_kf ptswrap.ts "0 2 4 6 8 10"
expect_kf irregular_gop.ts "0 1.32 4.12 5 8.72 10.2"

# ----------------------------------------------------------------- install ---
for f in "$TMP"/*.ts "$TMP"/*.bin; do mv -f "$f" "$OUT/"; done

echo "== summary ($OUT)"
printf '%-18s %8s  %-16s %s\n' FILE BYTES CODECS "VIDEO KEYFRAMES (s after first video PTS)"
total=0
for f in h264_aac.ts hevc_ac3.ts mpeg2_mp2.ts aac_only.ts irregular_gop.ts long_gop.ts \
         ptswrap.ts concat.ts midgop.ts loss.ts garbage.ts truncated.ts not_ts.bin; do
    p=$OUT/$f
    size=$(stat -c %s "$p"); total=$((total + size))
    (( size <= 650000 )) || warn "$f is $size bytes (> ~600 KB)"
    if [[ $f == not_ts.bin ]]; then
        printf '%-18s %8d  %-16s %s\n' "$f" "$size" "-" "-"
    else
        printf '%-18s %8d  %-16s %s\n' "$f" "$size" "$(codecs "$p" 2>/dev/null || echo '?')" \
            "$(keyframes "$p" 2>/dev/null || echo '?')"
    fi
done
echo "total: $total bytes"
(( total <= 5 * 1024 * 1024 )) || warn "total size above 5 MB"
echo "ptswrap.ts raw 33-bit PTS wrap: $wraps"
