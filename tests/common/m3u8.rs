//! A small parser for the media playlists streamrouter writes (RFC 8216, version 3).

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
    /// Parses playlist text; panics with the text on anything malformed.
    pub fn parse(text: &str) -> Self {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        assert_eq!(
            lines.next(),
            Some("#EXTM3U"),
            "playlist must start with #EXTM3U:\n{text}"
        );
        let mut playlist = Playlist::default();
        let mut pending: Option<(f64, bool, bool)> = None;
        let mut discontinuity = false;
        let mut gap = false;
        let number = |value: &str| -> u64 {
            value
                .parse()
                .unwrap_or_else(|_| panic!("bad number {value:?} in playlist:\n{text}"))
        };
        for line in lines {
            assert!(
                !playlist.endlist,
                "line {line:?} after #EXT-X-ENDLIST:\n{text}"
            );
            if let Some(value) = line.strip_prefix("#EXT-X-VERSION:") {
                playlist.version = Some(number(value));
            } else if let Some(value) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
                playlist.target_duration = Some(number(value));
            } else if let Some(value) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                playlist.media_sequence = Some(number(value));
            } else if let Some(value) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
                playlist.discontinuity_sequence = Some(number(value));
            } else if let Some(value) = line.strip_prefix("#EXT-X-PLAYLIST-TYPE:") {
                playlist.playlist_type = Some(value.to_owned());
            } else if line == "#EXT-X-INDEPENDENT-SEGMENTS" {
                playlist.independent_segments = true;
            } else if line == "#EXT-X-DISCONTINUITY" {
                discontinuity = true;
            } else if line == "#EXT-X-GAP" {
                gap = true;
            } else if line.starts_with("#EXT-X-PROGRAM-DATE-TIME:") {
                playlist.program_date_times += 1;
            } else if line == "#EXT-X-ENDLIST" {
                playlist.endlist = true;
            } else if let Some(value) = line.strip_prefix("#EXTINF:") {
                assert!(pending.is_none(), "two EXTINF without a URI:\n{text}");
                let duration = value.split(',').next().unwrap_or_default();
                let duration: f64 = duration
                    .parse()
                    .unwrap_or_else(|_| panic!("bad EXTINF {line:?}:\n{text}"));
                pending = Some((
                    duration,
                    std::mem::take(&mut discontinuity),
                    std::mem::take(&mut gap),
                ));
            } else if line.starts_with('#') {
                assert!(
                    !line.starts_with("#EXT"),
                    "unexpected tag {line:?}:\n{text}"
                );
            } else {
                let (duration, discontinuity, gap) = pending
                    .take()
                    .unwrap_or_else(|| panic!("URI {line:?} without EXTINF:\n{text}"));
                playlist.entries.push(Entry {
                    duration,
                    uri: line.to_owned(),
                    discontinuity,
                    gap,
                });
            }
        }
        assert!(
            pending.is_none(),
            "EXTINF without a URI at the end:\n{text}"
        );
        assert!(
            !discontinuity,
            "EXT-X-DISCONTINUITY before no segment:\n{text}"
        );
        playlist
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
