//! The one-shot segment job behind `streamrouter segment`: reads one input (file or stdin),
//! runs framing → segmenter → playlist and publishes to a local directory.
//!
//! Owns the read loop, progress reporting and the end-of-input sequence (final segment,
//! EXT-X-ENDLIST, waiting out the expiry of removed segments). Cutting and playlist rules live
//! in their own modules. With [`SegmentFormat::Fmp4`] every cut TS segment goes through the
//! remuxer ([`crate::media::fmp4`]) before it is published, and each new init segment is
//! stored before the first playlist that names it.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use streamrouter_local::LocalSink;
use streamrouter_plugin::SinkError;

mod sealing;

use sealing::JobSealer;

use crate::config::segment_format::init_key;
use crate::media::fmp4::{Fmp4Error, Remuxer};
use crate::media::framing::{FramingStats, TsFramer};
use crate::playlist::{PlanSettings, PlaylistConfig, SegmentNamePattern};
use crate::publish::encryption::EncryptionError;
use crate::publish::key_naming::KeyPattern;
use crate::publish::{ObjectHeaders, PublishError, PublishStats, Publisher};
use crate::segmenter::{Segment, Segmenter, SegmenterConfig, SegmenterStats};

/// Bytes read per call.
const READ_CHUNK: usize = 256 * 1024;
/// An input that yields no TS packet within this many bytes is not MPEG-TS.
const SNIFF_LIMIT: u64 = 1024 * 1024;

/// Where the stream comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (a live pipe).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Stdin => f.write_str("stdin"),
            Input::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What the segments are made of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SegmentFormat {
    /// MPEG-TS, as cut.
    #[default]
    Ts,
    /// fMP4 / CMAF fragments with init segments.
    Fmp4 {
        /// Init segment name; `{n}` is replaced by the init's number (0, then +1 per codec
        /// configuration change).
        init_name: String,
    },
}

/// Everything `streamrouter segment` needs.
#[derive(Debug, Clone)]
pub struct SegmentJob {
    /// The MPEG-TS input.
    pub input: Input,
    /// Output directory.
    pub out_dir: PathBuf,
    /// How to cut.
    pub segmenter: SegmenterConfig,
    /// Key of the playlist.
    pub playlist_key: String,
    /// Segment keys.
    pub segment_name: SegmentNamePattern,
    /// Media sequence number of the first segment.
    pub first_sequence: u64,
    /// Segments kept in the playlist; 0 keeps all.
    pub window: usize,
    /// Show progress on stderr when it is a terminal.
    pub progress: bool,
    /// MPEG-TS or fMP4 segments.
    pub format: SegmentFormat,
    /// AES-128 encryption, keys stored beside the segments.
    pub encryption: Option<JobEncryption>,
}

/// How a job encrypts its segments (AES-128, keys written to the output directory).
#[derive(Debug, Clone)]
pub struct JobEncryption {
    /// A new key every N segments; 0 keeps one key.
    pub rotate_every: u64,
    /// Key file names, with `{key}` (the key's number, from 0).
    pub key_name: KeyPattern,
    /// The URI written in `#EXT-X-KEY`; `None`: the key file's name, relative to the playlist.
    pub key_uri: Option<KeyPattern>,
}

/// What a finished job did.
#[derive(Debug, Clone, Default)]
pub struct JobReport {
    /// Input bytes read.
    pub bytes: u64,
    /// Framing counters (garbage, sync losses, truncation).
    pub framing: FramingStats,
    /// Segmenter counters (continuity errors, discontinuities…).
    pub segmenter: SegmenterStats,
    /// Publishing counters.
    pub published: PublishStats,
    /// Segments the fMP4 remuxer could not convert (skipped; the next one starts a
    /// discontinuity).
    pub remux_failures: u64,
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The input could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The input path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Reading failed.
    #[error("reading {input}: {source}")]
    Read {
        /// The input.
        input: String,
        /// The cause.
        source: io::Error,
    },
    /// No TS sync pattern at all.
    #[error(
        "{input} is not an MPEG transport stream: no run of 0x47 sync bytes 188 bytes apart in \
         the first {bytes} bytes"
    )]
    NotTransportStream {
        /// The input.
        input: String,
        /// Bytes examined.
        bytes: u64,
    },
    /// TS packets but no usable PAT/PMT.
    #[error("{input}: no program found (no valid PAT and PMT in {packets} packets)")]
    NoProgram {
        /// The input.
        input: String,
        /// Packets read.
        packets: u64,
    },
    /// A program, but nothing to cut on.
    #[error("{input}: no segment produced (no random access point found on the main stream)")]
    NoSegment {
        /// The input.
        input: String,
    },
    /// The output directory could not be used.
    #[error("output directory: {0}")]
    Output(#[source] SinkError),
    /// Publishing failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// No key could be made for an encrypted segment.
    #[error("{0}")]
    Key(#[from] EncryptionError),
    /// The program's codecs cannot be put in fMP4 (yet).
    #[error("{input}: cannot write fMP4")]
    Fmp4 {
        /// The input.
        input: String,
        /// The cause.
        source: Fmp4Error,
    },
}

/// Runs the job to the end of the input.
pub fn run(job: &SegmentJob) -> Result<JobReport, JobError> {
    let mut reader: Box<dyn Read> = match &job.input {
        Input::Stdin => Box::new(io::stdin().lock()),
        Input::File(path) => Box::new(File::open(path).map_err(|source| JobError::Open {
            path: path.clone(),
            source,
        })?),
    };
    let sink = LocalSink::new(&job.out_dir).map_err(JobError::Output)?;
    let settings = PlanSettings {
        dvr: None,
        archive: None,
        playlist_key: job.playlist_key.clone(),
        segment_format: match job.format {
            SegmentFormat::Ts => crate::playlist::SegmentFormat::Ts,
            SegmentFormat::Fmp4 { .. } => crate::playlist::SegmentFormat::Fmp4,
        },
        segment_name: job.segment_name.clone(),
        base_url: None,
        first_sequence: job.first_sequence,
        delete_expired: true,
        program_date_time: false,
        playlist: PlaylistConfig {
            max_duration: None,
            window: job.window,
            target_duration: job.segmenter.target_duration,
            independent_segments: job.segmenter.repeat_headers,
        },
    };
    let mut publisher = Publisher::new(sink, settings);
    let mut fmp4 = match &job.format {
        SegmentFormat::Ts => None,
        SegmentFormat::Fmp4 { init_name } => {
            publisher = publisher.with_headers(ObjectHeaders::default().for_fmp4());
            Some(Fmp4Output::new(init_name.clone(), job.input.to_string()))
        }
    };
    let mut sealer = (job.encryption.clone()).map(JobSealer::start);
    let mut framer = TsFramer::new();
    let mut segmenter = Segmenter::new(job.segmenter.clone());
    let progress = Progress::new(job.progress);
    let input_name = job.input.to_string();

    let mut buf = vec![0u8; READ_CHUNK];
    let mut segments: Vec<Segment> = Vec::new();
    let mut bytes = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(JobError::Read {
                    input: input_name,
                    source,
                });
            }
        };
        bytes += n as u64;
        framer.push(&buf[..n], |packet| segmenter.push(packet, &mut segments));
        if framer.stats().packets == 0 && bytes >= SNIFF_LIMIT {
            return Err(JobError::NotTransportStream {
                input: input_name,
                bytes,
            });
        }
        let outputs = Outputs {
            fmp4: fmp4.as_mut(),
            sealer: sealer.as_mut(),
        };
        publish_all(&mut publisher, &mut segments, &mut segmenter, outputs)?;
        progress.update(bytes, publisher.stats());
    }
    framer.finish(|packet| segmenter.push(packet, &mut segments));
    segmenter.finish(&mut segments);
    let outputs = Outputs {
        fmp4: fmp4.as_mut(),
        sealer: sealer.as_mut(),
    };
    publish_all(&mut publisher, &mut segments, &mut segmenter, outputs)?;
    if let Some(sealer) = &mut sealer {
        publish_sealed(&mut publisher, sealer.drain()?, &mut segmenter)?;
    }
    progress.finish();

    if framer.stats().packets == 0 {
        return Err(JobError::NotTransportStream {
            input: input_name,
            bytes,
        });
    }
    if segmenter.program().is_none() {
        return Err(JobError::NoProgram {
            input: input_name,
            packets: framer.stats().packets,
        });
    }
    if publisher.stats().segments == 0 {
        return Err(JobError::NoSegment { input: input_name });
    }
    publisher.end()?;
    wait_out_expiries(&mut publisher)?;
    Ok(JobReport {
        bytes,
        framing: framer.stats().clone(),
        segmenter: segmenter.stats().clone(),
        published: publisher.stats().clone(),
        remux_failures: fmp4.map_or(0, |f| f.failures),
    })
}

/// The fMP4 side of a job: the feed's remuxer and init naming.
struct Fmp4Output {
    remuxer: Remuxer,
    init_name: String,
    input: String,
    /// A segment was skipped: the next one starts a discontinuity.
    broken: bool,
    failures: u64,
}

impl Fmp4Output {
    fn new(init_name: String, input: String) -> Self {
        Self {
            remuxer: Remuxer::new(),
            init_name,
            input,
            broken: false,
            failures: 0,
        }
    }

    /// Remuxes `segment`, storing a new init segment first when there is one (after the
    /// segments still being encrypted, which do not name it). `None` when the segment could not
    /// be remuxed (logged, skipped).
    fn convert(
        &mut self,
        publisher: &mut Publisher<LocalSink>,
        segment: &Segment,
        sealer: Option<&mut JobSealer>,
    ) -> Result<Option<Segment>, JobError> {
        let discontinuity = segment.discontinuity || self.broken;
        let remuxed = match self.remuxer.remux(&segment.data, discontinuity, None) {
            Ok(remuxed) => remuxed,
            Err(source) if source.is_fatal() => {
                return Err(JobError::Fmp4 {
                    input: self.input.clone(),
                    source,
                });
            }
            Err(error) => {
                self.skip(&error);
                return Ok(None);
            }
        };
        if let Some(init) = &remuxed.init {
            if let Some(sealer) = sealer {
                for sealed in sealer.drain()? {
                    publisher.publish(&sealed, Instant::now())?;
                }
            }
            let key = init_key(&self.init_name, remuxed.init_index);
            publisher.publish_init(&key, init)?;
        }
        self.broken = false;
        let discontinuity = discontinuity || remuxed.new_configuration();
        Ok(Some(segment.remuxed_as(remuxed.fragment, discontinuity)))
    }

    fn skip(&mut self, error: &Fmp4Error) {
        tracing::warn!(%error, "segment not remuxed to fMP4; skipped");
        self.broken = true;
        self.failures += 1;
    }
}

/// What a job does to a cut segment before publishing it.
struct Outputs<'a> {
    fmp4: Option<&'a mut Fmp4Output>,
    sealer: Option<&'a mut JobSealer>,
}

fn publish_all(
    publisher: &mut Publisher<LocalSink>,
    segments: &mut Vec<Segment>,
    segmenter: &mut Segmenter,
    mut outputs: Outputs<'_>,
) -> Result<(), JobError> {
    let now = Instant::now();
    for segment in segments.drain(..) {
        let fragment = match outputs.fmp4.as_deref_mut() {
            None => None,
            Some(fmp4) => match fmp4.convert(publisher, &segment, outputs.sealer.as_deref_mut())? {
                Some(fragment) => Some(fragment),
                None => {
                    segmenter.recycle(segment.data);
                    continue;
                }
            },
        };
        let Some(sealer) = outputs.sealer.as_deref_mut() else {
            publisher.publish(fragment.as_ref().unwrap_or(&segment), now)?;
            segmenter.recycle(segment.data);
            continue;
        };
        // Encrypted in place on the sealer's thread: the cut's buffer (or the fragment's)
        // becomes the ciphertext.
        let to_seal = match fragment {
            Some(fragment) => {
                segmenter.recycle(segment.data);
                fragment
            }
            None => segment,
        };
        let sealed = sealer.submit(to_seal, publisher.next_sequence())?;
        publish_sealed(publisher, sealed, segmenter)?;
    }
    publisher.delete_due(Instant::now())?;
    Ok(())
}

/// Publishes segments back from the sealer, in order, and recycles their buffers.
fn publish_sealed(
    publisher: &mut Publisher<LocalSink>,
    sealed: Vec<Segment>,
    segmenter: &mut Segmenter,
) -> Result<(), JobError> {
    for segment in sealed {
        publisher.publish(&segment, Instant::now())?;
        segmenter.recycle(segment.data);
    }
    Ok(())
}

/// Segments removed from the window must stay available for a while after their last listing
/// (RFC 8216 §6.2.2); the job deletes them when that time has passed, then exits.
fn wait_out_expiries(publisher: &mut Publisher<LocalSink>) -> Result<(), PublishError> {
    if publisher.pending_deletions() > 0 {
        tracing::info!(
            segments = publisher.pending_deletions(),
            "keeping expired segments available as RFC 8216 §6.2.2 requires, then deleting them"
        );
    }
    while let Some(next) = publisher.next_deletion() {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        publisher.delete_due(Instant::now())?;
    }
    Ok(())
}

/// A one-line progress display on stderr, drawn only when stderr is a terminal.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(wanted: bool) -> Self {
        let bar = (wanted && io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar }
    }

    fn update(&self, bytes: u64, published: &PublishStats) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} read · {} segments · {} of media",
                indicatif::HumanBytes(bytes),
                published.segments,
                format_media_time(published.media_seconds)
            ));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn format_media_time(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    format!("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
}
