//! One task per master playlist: learns each variant's segments from its playlist task,
//! measures what the master says of them (bit rates, codecs, resolution, frame rate), checks
//! that the variants are cut at the same PTS under the same numbers, and hands the master
//! playlist to every sink publishing it: once every variant has a segment, then again only when
//! an attribute really changes. With archive masters (every variant archives on the same
//! periods), each period's archive master goes out once every variant has a segment of that
//! period, then again only when an attribute really changes while it is the latest period; the
//! sinks resolve the archives it lists (see `publish::archive_master`). A panic restarts the
//! task in place (see `heal`): it measures the variants afresh and publishes the masters again.
//!
//! Owns the measurements and the alignment check; never touches a sink or a plan directly
//! (the text goes through the sinks' queues, after the variants' first segments).

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::heal::{NodeTask, Restart};
use super::links::{MasterInput, SinkCommand, SinkQueue};
use crate::media::stream_info::{StreamInfo, analyze};
use crate::playlist::master::{BitrateMeter, VariantAttributes, render_master, worth_republishing};
use crate::playlist::views::ArchiveView;
use crate::publish::archive_master::ArchiveMasterVersion;
use crate::segmenter::Segment;
use crate::status::{Alerts, NodeState, NodeStatus};

/// Segment starts remembered per variant for the alignment check.
const RECENT_SEGMENTS: usize = 32;
/// One frame at 25 fps, when a variant's frame rate is unknown (90 kHz ticks).
const DEFAULT_FRAME_TICKS: i64 = 3600;
/// How far an audio-only variant may start from the others: it can only cut where an audio PES
/// starts, and muxers pack several frames into one (ffmpeg up to about 0.4 s at low bit rates).
const AUDIO_ONLY_TOLERANCE_TICKS: i64 = 45_000;
/// After its first report, a misaligned pair of variants is reported every this many segments.
const MISALIGNED_REPORT_EVERY: u64 = 100;

/// How a master task starts.
#[derive(Debug)]
pub struct MasterStart {
    /// Node name.
    pub name: String,
    /// Object key of the master playlist.
    pub key: String,
    /// Each variant: its playlist's name and its URI relative to the master.
    pub variants: Vec<(String, String)>,
    /// When every variant has a time-shift view: the time-shift master's key and each
    /// variant's time-shift playlist relative to it (in the order of `variants`).
    pub dvr: Option<(String, Vec<String>)>,
    /// When every variant archives on the same periods: the archive masters' periods (`every`)
    /// and names (`name`, the master's `archive_name`).
    pub archive: Option<ArchiveView>,
    /// The sinks publishing it.
    pub outputs: BTreeMap<String, SinkQueue>,
    /// Its entry on the status board.
    pub status: NodeStatus,
    /// Where its variants' misalignment is reported.
    pub alerts: Alerts,
}

/// What the master knows of one variant.
#[derive(Debug, Default)]
struct Variant {
    name: String,
    uri: String,
    meter: BitrateMeter,
    info: Option<StreamInfo>,
    analysis_failed: bool,
    independent: bool,
    segments: u64,
    /// The start of the latest archive period it has a segment of (with archive masters).
    period: Option<SystemTime>,
    /// Start PTS by sequence number, the latest few.
    recent: BTreeMap<u64, i64>,
}

impl Variant {
    /// How far apart this variant's cuts may be from the others' and still be aligned.
    fn frame_ticks(&self) -> i64 {
        let Some(info) = &self.info else {
            return DEFAULT_FRAME_TICKS;
        };
        if info.video.is_none() && !info.audio.is_empty() {
            return AUDIO_ONLY_TOLERANCE_TICKS;
        }
        info.video
            .as_ref()
            .and_then(|video| video.frame_rate)
            .filter(|rate| *rate > 0.0)
            .map_or(DEFAULT_FRAME_TICKS, |rate| (90_000.0 / rate).round() as i64)
    }

    fn attributes(&self) -> VariantAttributes {
        let video = self.info.as_ref().and_then(|info| info.video.as_ref());
        VariantAttributes {
            uri: self.uri.clone(),
            bandwidth: self.meter.peak(),
            average_bandwidth: self.meter.average(),
            codecs: self
                .info
                .as_ref()
                .map(StreamInfo::codecs)
                .unwrap_or_default(),
            resolution: video.map(|video| (video.width, video.height)),
            frame_rate: video.and_then(|video| video.frame_rate),
            independent: self.independent,
        }
    }
}

/// A master node's task, restarted in place after a panic (see `heal`): its channel, variants and
/// outputs survive; the run after a panic measures the variants afresh and publishes the master
/// again once every variant has a new segment.
pub struct MasterTask {
    start: MasterStart,
    inputs: mpsc::UnboundedReceiver<MasterInput>,
}

impl MasterTask {
    /// The task of `start`, reading `inputs`.
    pub fn new(start: MasterStart, inputs: mpsc::UnboundedReceiver<MasterInput>) -> Self {
        Self { start, inputs }
    }
}

/// Master playlists as published: (key, text).
type Versions = Vec<(String, String)>;

/// Hands every version to a sink's queue.
fn send(queue: &SinkQueue, versions: &Versions) {
    for (key, text) in versions {
        queue.send(SinkCommand::Master {
            key: key.clone(),
            text: text.clone(),
        });
    }
}

/// The master's versions to publish: the master at `key`, and the time-shift master listing
/// the variants' time-shift playlists when they all have one (`dvr`).
fn masters(
    key: &str,
    dvr: Option<&(String, Vec<String>)>,
    attributes: &[VariantAttributes],
) -> Versions {
    let mut versions = vec![(key.to_owned(), render_master(attributes))];
    if let Some((dvr_key, uris)) = dvr {
        let shifted: Vec<VariantAttributes> = (attributes.iter().zip(uris))
            .map(|(variant, uri)| VariantAttributes {
                uri: uri.clone(),
                ..variant.clone()
            })
            .collect();
        versions.push((dvr_key.clone(), render_master(&shifted)));
    }
    versions
}

/// The archive master to publish now, if any: once every variant has a segment of the same
/// period, later than the one `archived` (published), or the same one with attributes that
/// really changed.
fn archive_due(
    view: &ArchiveView,
    variants: &[Variant],
    archived: Option<&(SystemTime, Vec<VariantAttributes>)>,
) -> Option<ArchiveMasterVersion> {
    let start = variants.first()?.period?;
    if variants.iter().any(|variant| variant.period != Some(start)) {
        return None;
    }
    let attributes: Vec<_> = variants.iter().map(Variant::attributes).collect();
    let due = archived.is_none_or(|(published, old)| {
        start > *published || (start == *published && worth_republishing(old, &attributes))
    });
    due.then(|| ArchiveMasterVersion {
        key: view.name.render(start),
        start,
        variants: (variants.iter().map(|variant| variant.name.clone()))
            .zip(attributes)
            .collect(),
    })
}

impl NodeTask for MasterTask {
    type Output = ();

    /// Runs until every sender is gone.
    async fn run(&mut self, restart: Option<Restart>) {
        let MasterStart {
            name,
            key,
            variants,
            dvr,
            archive,
            outputs,
            status,
            alerts,
        } = &mut self.start;
        let node = status.node().clone();
        if restart.is_some() {
            // What it raised is measured again.
            alerts.clear(&node);
            tracing::info!(master = %name, "restarted after a panic: measuring the variants again");
        }
        let mut variants: Vec<Variant> = variants
            .iter()
            .map(|(name, uri)| Variant {
                name: name.clone(),
                uri: uri.clone(),
                independent: true,
                ..Variant::default()
            })
            .collect();
        let mut published: Option<(Vec<VariantAttributes>, Versions)> = None;
        // The latest period's archive master as published: its start and attributes.
        let mut archived: Option<(SystemTime, Vec<VariantAttributes>)> = None;
        let mut misaligned: BTreeSet<(usize, usize)> = BTreeSet::new();
        while let Some(input) = self.inputs.recv().await {
            match input {
                MasterInput::Segment {
                    variant,
                    sequence,
                    segment,
                    wall_clock,
                } => {
                    let Some(entry) = variants.get_mut(variant) else {
                        continue;
                    };
                    measure(name, entry, sequence, &segment);
                    if let Some(view) = archive.as_ref() {
                        // A clock going back stays in the period, as at the sinks.
                        let start = view.period_start(wall_clock);
                        entry.period = entry.period.max(Some(start));
                    }
                    let was_misaligned = !misaligned.is_empty();
                    check_alignment(name, &variants, variant, sequence, &mut misaligned);
                    match misaligned.first() {
                        Some((a, b)) if !was_misaligned => alerts.raise(
                            &node,
                            format!(
                                "variants not aligned: `{}` and `{}` start segments at different times",
                                variants[*a].name, variants[*b].name
                            ),
                        ),
                        None if was_misaligned => alerts.clear(&node),
                        _ => {}
                    }
                    if variants.iter().all(|v| v.segments > 0) {
                        let attributes: Vec<_> = variants.iter().map(Variant::attributes).collect();
                        let due = published
                            .as_ref()
                            .is_none_or(|(old, _)| worth_republishing(old, &attributes));
                        if due {
                            let versions = masters(key, dvr.as_ref(), &attributes);
                            for queue in outputs.values() {
                                send(queue, &versions);
                            }
                            tracing::info!(master = %name, variants = attributes.len(), "master playlist version");
                            status.set(NodeState::Live);
                            published = Some((attributes, versions));
                        }
                    }
                    if let Some(view) = archive.as_ref()
                        && let Some(version) = archive_due(view, &variants, archived.as_ref())
                    {
                        for queue in outputs.values() {
                            queue.send(SinkCommand::ArchiveMaster(version.clone()));
                        }
                        tracing::info!(master = %name, key = %version.key, "archive master version");
                        let attributes = version.variants.into_iter().map(|(_, a)| a).collect();
                        archived = Some((version.start, attributes));
                    }
                }
                MasterInput::Outputs(new) => {
                    if let Some((_, versions)) = &published {
                        for (sink, queue) in &new {
                            if !outputs.get(sink).is_some_and(|old| old.same_queue(queue)) {
                                send(queue, versions);
                            }
                        }
                    }
                    *outputs = new;
                }
            }
        }
    }
}

fn measure(master: &str, variant: &mut Variant, sequence: u64, segment: &Segment) {
    variant.segments += 1;
    variant.meter.add(segment.data.len(), segment.duration());
    variant.independent &= segment.independent;
    if variant.info.is_none() || segment.discontinuity {
        match analyze(&segment.data) {
            Ok(info) => {
                if variant.info.as_ref() != Some(&info) {
                    tracing::info!(master, variant = %variant.name, codecs = %info.codecs(), "variant analysed");
                }
                variant.info = Some(info);
            }
            Err(error) if !variant.analysis_failed => {
                variant.analysis_failed = true;
                tracing::warn!(master, variant = %variant.name, %error, "cannot tell the variant's codecs; the master omits them");
            }
            Err(_) => {}
        }
    }
    variant.recent.insert(sequence, segment.start_pts);
    while variant.recent.len() > RECENT_SEGMENTS {
        variant.recent.pop_first();
    }
}

/// Compares the segment `sequence` of variant `index` with the same number in the others: a
/// player switching variants there expects the same media.
fn check_alignment(
    master: &str,
    variants: &[Variant],
    index: usize,
    sequence: u64,
    misaligned: &mut BTreeSet<(usize, usize)>,
) {
    let Some(variant) = variants.get(index) else {
        return;
    };
    let Some(start) = variant.recent.get(&sequence) else {
        return;
    };
    for (other_index, other) in variants.iter().enumerate() {
        if other_index == index {
            continue;
        }
        let Some(other_start) = other.recent.get(&sequence) else {
            continue;
        };
        let tolerance = variant.frame_ticks().max(other.frame_ticks());
        let pair = (index.min(other_index), index.max(other_index));
        let apart = (start - other_start).abs();
        if apart > tolerance {
            let first = misaligned.insert(pair);
            if first || sequence.is_multiple_of(MISALIGNED_REPORT_EVERY) {
                tracing::warn!(
                    master,
                    variant = %variant.name,
                    other = %other.name,
                    sequence,
                    apart_ms = apart as f64 / 90.0,
                    "variants not aligned: segment {sequence} starts at different times, so \
                     players switching there will skip or repeat media (encode the renditions \
                     with keyframes at the same times, e.g. ffmpeg -force_key_frames \
                     \"expr:gte(t,n_forced*2)\")"
                );
            }
        } else if misaligned.remove(&pair) {
            tracing::info!(master, variant = %variant.name, other = %other.name, sequence, "variants aligned again");
        }
    }
}
