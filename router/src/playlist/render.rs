//! m3u8 rendering of a [`MediaPlaylist`]: tag order and number formats in one place, and the
//! [`Listing`] that keeps the listed entries' lines rendered.
//!
//! A view can list thousands of segments (a 2 h time-shift view at 2 s segments lists 3,600)
//! and is published after every segment. Formatting every entry each time (EXTINF decimals,
//! RFC 3339 date-times) would make each version cost as much as the whole window, so each entry
//! is formatted once, when it is listed: the listing keeps one text of every listed entry's
//! lines and the length of each, drops an entry's lines from the front when it leaves and
//! appends a new entry's. A rendering is then the header (a few numbers), that text and the
//! end tag: one copy of the text, which has to be uploaded whole anyway.

use std::collections::VecDeque;
use std::collections::vec_deque;
use std::fmt::Write;

use super::{EntryKey, MediaPlaylist, PlaylistEntry};

/// Room for the longest header and end tag (tags plus up to 20-digit numbers).
const HEADER_CAPACITY: usize = 256;

/// Renders the playlist as RFC 8216 text: EXT-X-VERSION 3 (decimal EXTINF durations), 7 while
/// a listed segment names an init segment (EXT-X-MAP of fMP4 segments, RFC 8216 §7), or 8
/// while a listed segment is marked EXT-X-GAP (the tag's protocol version, RFC 8216bis).
/// The entries' lines are the ones kept rendered since they were listed; an EXT-X-MAP is
/// written where the init segment changes, and before the first listed entry.
pub fn render_media_playlist(playlist: &MediaPlaylist) -> String {
    let body = playlist.entries.text();
    let mut text = String::with_capacity(HEADER_CAPACITY + body.len());
    write_header(
        &mut text,
        playlist,
        playlist.entries.has_gap(),
        playlist.entries.has_map(),
    );
    if let Some(map) = playlist.entries.front_map_not_inline() {
        write_map(&mut text, map);
    }
    text.push_str(body);
    write_end(&mut text, playlist);
    text
}

/// The same text formatted from the entries, every one of them: the reference the kept text
/// is checked against (tests) and the cost it saves is measured against (benches).
pub(super) fn render_from_scratch(playlist: &MediaPlaylist) -> String {
    let mut text = String::with_capacity(HEADER_CAPACITY + playlist.entries.len() * 48);
    write_header(
        &mut text,
        playlist,
        playlist.entries().any(|entry| entry.gap),
        playlist.entries().any(|entry| entry.map.is_some()),
    );
    let mut previous_map = None;
    for entry in playlist.entries() {
        write_entry(&mut text, entry, previous_map);
        previous_map = entry.map.as_deref();
    }
    write_end(&mut text, playlist);
    text
}

// Writing to a String cannot fail; the results are ignored for that reason.

fn write_header(text: &mut String, playlist: &MediaPlaylist, has_gap: bool, has_map: bool) {
    let version = match (has_gap, has_map) {
        (true, _) => 8,
        (false, true) => 7,
        (false, false) => 3,
    };
    let _ = writeln!(text, "#EXTM3U\n#EXT-X-VERSION:{version}");
    let _ = writeln!(text, "#EXT-X-TARGETDURATION:{}", playlist.target_duration());
    let _ = writeln!(
        text,
        "#EXT-X-MEDIA-SEQUENCE:{}",
        playlist.media_sequence().unwrap_or(0)
    );
    if playlist.discontinuity_sequence() > 0 {
        let _ = writeln!(
            text,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            playlist.discontinuity_sequence()
        );
    }
    let config = playlist.config();
    if playlist.is_vod() {
        text.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
    } else if config.window == 0 && config.max_duration.is_none() {
        text.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n");
    }
    if config.independent_segments {
        text.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
}

/// An entry's lines: its init segment (when another than `previous_map`'s), discontinuity,
/// its key line (every encrypted entry has its own `#EXT-X-KEY`, for its own IV), date-time
/// and gap tags, EXTINF and URI.
fn write_entry(text: &mut String, entry: &PlaylistEntry, previous_map: Option<&str>) {
    if let Some(map) = entry
        .map
        .as_deref()
        .filter(|&map| Some(map) != previous_map)
    {
        if entry.map_after_key {
            text.push_str("#EXT-X-KEY:METHOD=NONE\n");
        }
        write_map(text, map);
    }
    if entry.discontinuity {
        text.push_str("#EXT-X-DISCONTINUITY\n");
    }
    match &entry.key {
        Some(EntryKey::Aes128 { uri, iv, .. }) => {
            let _ = write!(text, "#EXT-X-KEY:METHOD=AES-128,URI=\"{uri}\",IV=0x");
            for byte in iv {
                let _ = write!(text, "{byte:02X}");
            }
            text.push('\n');
        }
        Some(EntryKey::None) => text.push_str("#EXT-X-KEY:METHOD=NONE\n"),
        None => {}
    }
    if let Some(time) = entry.program_date_time {
        let _ = writeln!(
            text,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            humantime::format_rfc3339_millis(time)
        );
    }
    if entry.gap {
        text.push_str("#EXT-X-GAP\n");
    }
    let _ = writeln!(text, "#EXTINF:{:.3},\n{}", entry.duration, entry.uri);
}

fn write_map(text: &mut String, uri: &str) {
    let _ = writeln!(text, "#EXT-X-MAP:URI=\"{uri}\"");
}

fn write_end(text: &mut String, playlist: &MediaPlaylist) {
    if playlist.is_ended() {
        text.push_str("#EXT-X-ENDLIST\n");
    }
}

/// The listed entries, oldest first, with their lines kept rendered. Its fields are private to
/// this module so that the entries and their text cannot part: every change goes through a
/// method that updates both.
#[derive(Clone, Default)]
pub(super) struct Listing {
    entries: VecDeque<PlaylistEntry>,
    /// The lines of entries that left, then those of the listed entries in order. The prefix
    /// of left ones (`start` bytes) is dropped once it outgrows a quarter of the rest, so that
    /// removing an entry moves no text most of the time and the dead part stays small.
    text: String,
    start: usize,
    /// Byte length of each listed entry's lines, in order.
    lengths: VecDeque<usize>,
    /// Listed entries marked EXT-X-GAP (they raise EXT-X-VERSION).
    gaps: usize,
    /// Listed entries naming an init segment (they raise EXT-X-VERSION).
    maps: usize,
    /// Whether each listed entry's lines hold its EXT-X-MAP (false when the entry before had
    /// the same one: the first listed entry then needs it written in front).
    inline_maps: VecDeque<bool>,
}

impl Listing {
    /// The listed text of every entry: what [`MediaPlaylist::restore`] starts from.
    pub(super) fn from_entries(entries: impl IntoIterator<Item = PlaylistEntry>) -> Self {
        let mut listing = Self::default();
        for entry in entries {
            listing.push_back(entry);
        }
        listing
    }

    /// Lists an entry after the others. An entry in the clear after an encrypted one says so
    /// (`#EXT-X-KEY:METHOD=NONE`: a key tag holds until the next one, RFC 8216 §4.3.2.4), and
    /// so does a new init segment (EXT-X-MAP) after one: init segments are stored in the clear.
    pub(super) fn push_back(&mut self, mut entry: PlaylistEntry) {
        let previous = self.entries.back();
        let after_key = previous.is_some_and(|e| matches!(e.key, Some(EntryKey::Aes128 { .. })));
        let previous_map = previous.and_then(|e| e.map.as_deref());
        if after_key && entry.key.is_none() {
            entry.key = Some(EntryKey::None);
        }
        entry.map_after_key =
            after_key && entry.map.is_some() && entry.map.as_deref() != previous_map;
        let before = self.text.len();
        write_entry(&mut self.text, &entry, previous_map);
        self.lengths.push_back(self.text.len() - before);
        self.gaps += usize::from(entry.gap);
        self.maps += usize::from(entry.map.is_some());
        self.inline_maps
            .push_back(entry.map.is_some() && entry.map.as_deref() != previous_map);
        self.entries.push_back(entry);
    }

    /// Removes the oldest entry.
    pub(super) fn pop_front(&mut self) -> Option<PlaylistEntry> {
        let entry = self.entries.pop_front()?;
        self.start += self.lengths.pop_front().unwrap_or(0);
        self.gaps -= usize::from(entry.gap);
        self.maps -= usize::from(entry.map.is_some());
        self.inline_maps.pop_front();
        if self.start > (self.text.len() - self.start) / 4 {
            self.text.drain(..self.start);
            self.start = 0;
        }
        Some(entry)
    }

    /// Removes every entry.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.text.clear();
        self.start = 0;
        self.lengths.clear();
        self.gaps = 0;
        self.maps = 0;
        self.inline_maps.clear();
    }

    /// Raises every listed entry's longest listing (not rendered) to `listed` seconds.
    pub(super) fn raise_longest_listing(&mut self, listed: f64) {
        for entry in &mut self.entries {
            entry.longest_listing = entry.longest_listing.max(listed);
        }
    }

    pub(super) fn iter(&self) -> vec_deque::Iter<'_, PlaylistEntry> {
        self.entries.iter()
    }

    pub(super) fn front(&self) -> Option<&PlaylistEntry> {
        self.entries.front()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether a listed entry is marked EXT-X-GAP.
    pub(super) fn has_gap(&self) -> bool {
        self.gaps > 0
    }

    /// Whether a listed entry names an init segment.
    pub(super) fn has_map(&self) -> bool {
        self.maps > 0
    }

    /// The first listed entry's init segment, when its lines do not hold its EXT-X-MAP.
    pub(super) fn front_map_not_inline(&self) -> Option<&str> {
        match self.inline_maps.front() {
            Some(false) => self.entries.front().and_then(|e| e.map.as_deref()),
            _ => None,
        }
    }

    /// The listed entries' lines.
    pub(super) fn text(&self) -> &str {
        self.text.get(self.start..).unwrap_or_default()
    }

    /// Bytes held for the kept text (allocated, including the dead prefix and the lengths).
    pub(super) fn text_capacity(&self) -> usize {
        self.text.capacity() + self.lengths.capacity() * std::mem::size_of::<usize>()
    }
}

impl std::fmt::Debug for Listing {
    /// The entries, and only the size of their text (a window's text is long).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listing")
            .field("entries", &self.entries)
            .field("text_bytes", &self.text().len())
            .finish()
    }
}
