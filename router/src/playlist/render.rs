//! m3u8 rendering of a [`MediaPlaylist`]: tag order and number formats in one place.

use std::fmt::Write;

use super::MediaPlaylist;

/// Renders the playlist as RFC 8216 text: EXT-X-VERSION 3 (decimal EXTINF durations), or 8
/// while a listed segment is marked EXT-X-GAP (the tag's protocol version, RFC 8216bis).
pub fn render_media_playlist(playlist: &MediaPlaylist) -> String {
    let mut text = String::with_capacity(128 + playlist.entries.len() * 48);
    let version = if playlist.entries().any(|entry| entry.gap) {
        8
    } else {
        3
    };
    let _ = writeln!(text, "#EXTM3U\n#EXT-X-VERSION:{version}");
    // Writing to a String cannot fail; the results are ignored for that reason.
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
    if playlist.config().independent_segments {
        text.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    for entry in playlist.entries() {
        if entry.discontinuity {
            text.push_str("#EXT-X-DISCONTINUITY\n");
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
    if playlist.is_ended() {
        text.push_str("#EXT-X-ENDLIST\n");
    }
    text
}
