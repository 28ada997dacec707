//! The media playlists streamrouter writes (RFC 8216), as the tests see them: read by the
//! `m3u8-rs` crate, not by code of ours.

/// One listed segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// EXTINF duration in seconds.
    pub duration: f64,
    /// The URI line.
    pub uri: String,
    /// Preceded by #EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
    /// Marked #EXT-X-GAP: listed, but not there.
    pub gap: bool,
    /// Its #EXT-X-PROGRAM-DATE-TIME.
    pub program_date_time: Option<std::time::SystemTime>,
}

/// A media playlist.
#[derive(Debug, Clone, Default)]
pub struct Playlist {
    pub version: Option<u64>,
    pub target_duration: Option<u64>,
    pub media_sequence: Option<u64>,
    pub discontinuity_sequence: Option<u64>,
    pub playlist_type: Option<String>,
    pub independent_segments: bool,
    pub endlist: bool,
    /// EXT-X-PROGRAM-DATE-TIME tags seen.
    pub program_date_times: usize,
    pub entries: Vec<Entry>,
}

impl Playlist {
    /// Reads playlist text with `m3u8-rs` (an independent parser, so the tests never check our
    /// renderer with our own reading of it); panics with the text on anything malformed, or on
    /// a tag the parser does not know and we do not write.
    pub fn parse(text: &str) -> Self {
        assert!(
            text.starts_with("#EXTM3U"),
            "playlist must start with #EXTM3U:\n{text}"
        );
        let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes())
            .unwrap_or_else(|e| panic!("not a media playlist ({e:?}):\n{text}"));
        assert!(
            parsed.unknown_tags.is_empty(),
            "unexpected tags {:?}:\n{text}",
            parsed.unknown_tags
        );
        if parsed.end_list {
            assert!(
                text.trim_end().ends_with("#EXT-X-ENDLIST"),
                "lines after #EXT-X-ENDLIST:\n{text}"
            );
        }
        // m3u8-rs reads these three with a default of 0; whether each tag is there at all is
        // read from the text (its line only).
        let written = |tag: &str| text.lines().any(|line| line.starts_with(tag));
        let entries = (parsed.segments.iter())
            .map(|segment| {
                // m3u8-rs has no EXT-X-GAP: it keeps the tag among the segment's unknown ones.
                let gap = segment.unknown_tags.iter().any(|tag| tag.tag == "X-GAP");
                let others: Vec<_> = (segment.unknown_tags.iter())
                    .filter(|tag| tag.tag != "X-GAP" && !is_key_method_none(tag))
                    .collect();
                assert!(others.is_empty(), "unexpected tags {others:?}:\n{text}");
                Entry {
                    duration: exact(segment.duration),
                    uri: segment.uri.clone(),
                    discontinuity: segment.discontinuity,
                    gap,
                    program_date_time: segment.program_date_time.map(|time| {
                        let millis = u64::try_from(time.timestamp_millis()).unwrap();
                        std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis)
                    }),
                }
            })
            .collect();
        Playlist {
            version: parsed.version.map(|version| version as u64),
            target_duration: written("#EXT-X-TARGETDURATION:").then_some(parsed.target_duration),
            media_sequence: written("#EXT-X-MEDIA-SEQUENCE:").then_some(parsed.media_sequence),
            discontinuity_sequence: written("#EXT-X-DISCONTINUITY-SEQUENCE:")
                .then_some(parsed.discontinuity_sequence),
            playlist_type: parsed.playlist_type.map(|kind| kind.to_string()),
            independent_segments: parsed.independent_segments,
            endlist: parsed.end_list,
            program_date_times: (parsed.segments.iter())
                .filter(|segment| segment.program_date_time.is_some())
                .count(),
            entries,
        }
    }

    /// The EXTINF durations.
    pub fn durations(&self) -> Vec<f64> {
        self.entries.iter().map(|e| e.duration).collect()
    }

    /// Sum of the EXTINF durations.
    pub fn total_duration(&self) -> f64 {
        self.entries.iter().map(|e| e.duration).sum()
    }

    /// The segment URIs.
    pub fn uris(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.uri.as_str()).collect()
    }
}

/// Whether `tag` is `#EXT-X-KEY:METHOD=NONE` (after encrypted entries, RFC 8216 §4.3.2.4),
/// which m3u8-rs 6.0 keeps among the unknown tags: it refuses a key without IV when the method
/// is NONE, where the RFC forbids any other attribute.
pub fn is_key_method_none(tag: &m3u8_rs::ExtTag) -> bool {
    tag.tag == "X-KEY" && tag.rest.as_deref() == Some("METHOD=NONE")
}

/// An EXTINF duration m3u8-rs read as `f32`, as the decimal written: our durations have three
/// decimals and stay under 1000 s, at most 6 digits, which an `f32` and its shortest decimal
/// form carry exactly.
fn exact(duration: f32) -> f64 {
    duration.to_string().parse().unwrap_or(f64::from(duration))
}

/// The tags streamrouter writes, as m3u8-rs reads them (a renderer's output, copied).
#[test]
fn m3u8_rs_reads_every_tag_we_write() {
    let text = "#EXTM3U\n#EXT-X-VERSION:8\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n\
                #EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-PLAYLIST-TYPE:EVENT\n\
                #EXT-X-INDEPENDENT-SEGMENTS\n\
                #EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:40.123Z\n#EXTINF:4.004,\na-00007.ts\n\
                #EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:50.000Z\n\
                #EXT-X-GAP\n#EXTINF:3.967,\na-00008.ts\n#EXT-X-ENDLIST\n";
    let playlist = Playlist::parse(text);
    assert_eq!(
        (playlist.version, playlist.target_duration),
        (Some(8), Some(4))
    );
    assert_eq!(
        (playlist.media_sequence, playlist.discontinuity_sequence),
        (Some(7), Some(2))
    );
    assert_eq!(playlist.playlist_type.as_deref(), Some("EVENT"));
    assert!(playlist.independent_segments && playlist.endlist);
    assert_eq!(playlist.program_date_times, 2);
    assert_eq!(
        playlist.entries,
        [
            Entry {
                duration: 4.004,
                uri: "a-00007.ts".into(),
                discontinuity: false,
                gap: false,
                program_date_time: humantime::parse_rfc3339("2026-11-18T11:06:40.123Z").ok(),
            },
            Entry {
                duration: 3.967,
                uri: "a-00008.ts".into(),
                discontinuity: true,
                gap: true,
                program_date_time: humantime::parse_rfc3339("2026-11-18T11:06:50Z").ok(),
            },
        ]
    );
    // An encrypted entry, then one in the clear again.
    let keyed = Playlist::parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"k-0000.key\",IV=0x00000000000000000000000000000001\n\
         #EXTINF:1.000,\nx.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:1.000,\ny.ts\n",
    );
    assert_eq!(keyed.uris(), ["x.ts", "y.ts"]);
    let bare = Playlist::parse("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:1.000,\nx.ts\n");
    assert_eq!(
        (bare.media_sequence, bare.discontinuity_sequence),
        (None, None)
    );
}
