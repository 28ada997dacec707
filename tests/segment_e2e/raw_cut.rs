//! `--no-repeat-headers`: the raw cut.

use crate::support::*;

// ------------------------------------------------------------------------------------------
// 4. Raw cut

/// Byte offset of the TS packet that starts the input's first video keyframe (ffprobe's pos).
fn first_keyframe_offset(input: &Path) -> usize {
    let sections = ff::probe(
        input,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pos,flags",
        ],
    );
    let key = sections
        .iter()
        .find(|s| s.name == "PACKET" && s.fields.get("flags").is_some_and(|f| f.starts_with('K')))
        .unwrap_or_else(|| panic!("{}: no keyframe", input.display()));
    key.fields
        .get("pos")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{}: keyframe without pos: {key:?}", input.display()))
}

#[test]
fn no_repeat_headers_is_the_raw_cut() {
    for file in ["h264_aac.ts", "hevc_ac3.ts", "midgop.ts", "concat.ts"] {
        let input = router::data(file);
        let out = segment_with(
            &input,
            &["--target-duration", "4", "--no-repeat-headers"],
            "index.m3u8",
        );
        assert!(out.playlist.endlist, "{file}: no #EXT-X-ENDLIST");
        assert!(
            !out.playlist.independent_segments,
            "{file}: #EXT-X-INDEPENDENT-SEGMENTS without repeated headers"
        );
        let bytes = router::read(&input);
        let from = first_keyframe_offset(&input);
        let cut = out.concatenated();
        assert!(
            cut == bytes[from..],
            "{file}: the segments ({} bytes) are not the input from its first keyframe packet at \
             byte {from} on ({} bytes)",
            cut.len(),
            bytes.len() - from
        );
        let segments = out.segments();
        assert!(segments.len() >= 3, "{file}: {} segments", segments.len());
        for segment in &segments[1..] {
            let data = router::read(segment);
            let first = ts::packets(&data)[0];
            assert!(
                first.pid() != ts::PAT_PID && first.starts_pes(),
                "{}: a raw cut must start with the keyframe's PES packet, not pid {:#x}",
                segment.display(),
                first.pid()
            );
        }
        // Read in order, the segments are a valid stream.
        if file != "concat.ts" {
            ff::assert_decodes_cleanly(&out.playlist_path);
        }
    }
}

#[test]
fn no_repeat_headers_drops_only_true_duplicates() {
    // loss.ts has corrupted continuity counters. ISO/IEC 13818-1 §2.4.3.3: a duplicate packet
    // repeats every byte of the previous packet of its PID (PCR excepted); a packet with a
    // repeated counter but other bytes is a continuity error and carries data. The raw cut may
    // drop the former only.
    let input = router::data("loss.ts");
    let out = segment_with(
        &input,
        &["--target-duration", "4", "--no-repeat-headers"],
        "index.m3u8",
    );
    let bytes = router::read(&input);
    let from = first_keyframe_offset(&input);
    let mut expected = Vec::new();
    let mut offsets = Vec::new();
    let mut previous: std::collections::HashMap<u16, ts::Packet<'_>> =
        std::collections::HashMap::new();
    let mut duplicates = 0;
    let start = from - from % ts::PACKET_SIZE;
    for (index, packet) in ts::packets(&bytes[start..]).into_iter().enumerate() {
        if packet.has_payload() {
            if previous
                .get(&packet.pid())
                .is_some_and(|p| p.is_duplicated_by(&packet))
            {
                duplicates += 1;
                continue;
            }
            previous.insert(packet.pid(), packet);
        }
        expected.extend_from_slice(packet.0);
        offsets.push(start + index * ts::PACKET_SIZE);
    }
    let cut = out.concatenated();
    if cut != expected {
        let got = ts::packets(&cut);
        let want = ts::packets(&expected);
        let at = got
            .iter()
            .zip(&want)
            .position(|(g, w)| g != w)
            .unwrap_or(got.len().min(want.len()));
        let detail = want.get(at).map_or_else(
            || "the output has extra packets at its end".to_owned(),
            |missing| {
                let offset = offsets[at];
                let before = ts::packets(&bytes[start..offset])
                    .into_iter()
                    .rev()
                    .find(|p| p.pid() == missing.pid() && p.has_payload());
                format!(
                    "the input packet at byte {offset} (pid {:#x}, counter {}) is missing; the \
                     previous packet of its PID has counter {:?} and {} bytes",
                    missing.pid(),
                    missing.continuity_counter(),
                    before.map(|p| p.continuity_counter()),
                    if before.is_some_and(|p| p.is_duplicated_by(missing)) {
                        "the same"
                    } else {
                        "other"
                    }
                )
            },
        );
        panic!(
            "loss.ts raw cut: {} packets, expected {} (the input from byte {from} less \
             {duplicates} true duplicates); {detail}",
            got.len(),
            want.len(),
        );
    }
}
