//! The journal side of a sink's backlog: the record each command is kept as, and the bytes
//! written beside it (a segment's or an fMP4 init segment's). Plain conversions.

use std::sync::Arc;

use crate::publish::journal::{Record, SegmentInfo, crc32};
use crate::segmenter::Segment;

use super::links::SinkCommand;

/// The bytes a record keeps in its file.
pub(super) enum JournalBytes {
    /// A segment's.
    Segment(Arc<Segment>),
    /// An init segment's.
    Init(Arc<Vec<u8>>),
}

impl JournalBytes {
    /// The bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            JournalBytes::Segment(segment) => &segment.data,
            JournalBytes::Init(data) => data,
        }
    }
}

/// The journal record of a command; `None` for one never journaled (a key for a key sink).
pub(super) fn record_of(command: &SinkCommand) -> Option<Record> {
    let record = match command {
        SinkCommand::Plan { playlist, settings } => Record::Plan {
            playlist: playlist.to_string(),
            settings: settings.clone(),
        },
        SinkCommand::Segment {
            playlist,
            key,
            segment,
            wall_clock,
            ..
        } => Record::Segment {
            playlist: playlist.to_string(),
            key: key.clone(),
            info: SegmentInfo::of(segment),
            wall_clock: *wall_clock,
            len: segment.data.len() as u64,
            crc: crc32(&segment.data),
        },
        SinkCommand::Init {
            playlist,
            key,
            data,
        } => Record::Init {
            playlist: playlist.to_string(),
            key: key.clone(),
            len: data.len() as u64,
            crc: crc32(data),
        },
        SinkCommand::Master { key, text } => Record::Master {
            key: key.clone(),
            text: text.clone(),
        },
        SinkCommand::ArchiveMaster(version) => Record::ArchiveMaster(version.clone()),
        SinkCommand::End {
            playlist,
            endlist,
            forget,
        } => Record::End {
            playlist: playlist.to_string(),
            endlist: *endlist,
            forget: *forget,
        },
        SinkCommand::DeleteKey {
            playlist,
            name,
            keep_for,
        } => Record::DeleteKey {
            playlist: playlist.to_string(),
            key: name.clone(),
            keep_for: *keep_for,
        },
        SinkCommand::Key(_) | SinkCommand::Barrier(_) => return None,
    };
    Some(record)
}
