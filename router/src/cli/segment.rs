//! `streamrouter segment`: the one-shot segmenter on a file or stdin.

use std::path::PathBuf;

use anyhow::{Context, bail};
use streamrouter::playlist::SegmentNamePattern;
use streamrouter::publish::key_naming::KeyPattern;
use streamrouter::segment_job::{self, Input, JobEncryption, JobReport, SegmentFormat, SegmentJob};
use streamrouter::segmenter::SegmenterConfig;

#[derive(Debug, clap::Args)]
pub struct SegmentArgs {
    /// MPEG-TS file, or `-` for standard input (a live pipe).
    input: String,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Target segment duration in seconds; cuts happen at the first keyframe at or after it.
    #[arg(long, value_name = "SECS", default_value_t = 4.0)]
    target_duration: f64,
    /// Segments kept in the playlist; 0 keeps all and is the default for a file, 6 for stdin.
    #[arg(long, value_name = "N")]
    window: Option<usize>,
    /// Segment file name prefix: PREFIX-00001.ts, PREFIX-00002.ts, …
    #[arg(long = "name", value_name = "PREFIX", default_value = "segment")]
    prefix: String,
    /// Playlist file name.
    #[arg(long, value_name = "FILE", default_value = "index.m3u8")]
    playlist: String,
    /// Do not start each segment with PAT/PMT: the raw cut, segments need the ones before.
    #[arg(long)]
    no_repeat_headers: bool,
    /// Media sequence number (and file number) of the first segment.
    #[arg(long, value_name = "N", default_value_t = 1)]
    start_number: u64,
    /// Segment format: MPEG-TS (PREFIX-00001.ts), or fMP4/CMAF fragments (PREFIX-00001.m4s)
    /// with init segments PREFIX-init-0.mp4, -1.mp4, … (a new one per codec configuration).
    #[arg(long, value_enum, default_value_t = FormatArg::Ts)]
    format: FormatArg,
    /// Encrypt every segment with AES-128 (HLS METHOD=AES-128), the keys written beside them as
    /// PREFIX-0000.key, PREFIX-0001.key, …
    #[arg(long)]
    encrypt: bool,
    /// With --encrypt: a new key every N segments (0, the default: one key).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "encrypt")]
    rotate_every: u64,
    /// With --encrypt: the key URI written in #EXT-X-KEY, {key} (or {key:0N}) the key's
    /// number; default: the key file's name, relative to the playlist.
    #[arg(long, value_name = "URI", requires = "encrypt")]
    key_uri: Option<String>,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    /// MPEG-TS segments.
    Ts,
    /// Fragmented MP4 (CMAF) segments, H.264 and AAC.
    Fmp4,
}

/// Segments in the default live window of a pipe (Apple asks for at least 6).
const DEFAULT_LIVE_WINDOW: usize = 6;
/// A live window must span at least this many target durations (RFC 8216 §6.2.2).
const MIN_LIVE_WINDOW: usize = 3;

pub fn segment(args: SegmentArgs) -> anyhow::Result<()> {
    if !(args.target_duration.is_finite() && args.target_duration > 0.0) {
        bail!("--target-duration must be a positive number of seconds");
    }
    let input = if args.input == "-" {
        Input::Stdin
    } else {
        Input::File(PathBuf::from(&args.input))
    };
    let window = args.window.unwrap_or(match input {
        Input::Stdin => DEFAULT_LIVE_WINDOW,
        Input::File(_) => 0,
    });
    if window > 0 && window < MIN_LIVE_WINDOW {
        bail!(
            "--window {window} is too short: a live playlist must span at least {MIN_LIVE_WINDOW} \
             target durations (RFC 8216 §6.2.2); use --window {MIN_LIVE_WINDOW} or more, or 0"
        );
    }
    if args.no_repeat_headers && args.format == FormatArg::Fmp4 {
        bail!(
            "--no-repeat-headers is for MPEG-TS only: fMP4 fragments are remuxed from segments \
             that start with PAT/PMT"
        );
    }
    check_file_name("--playlist", &args.playlist)?;
    check_file_name("--name", &args.prefix)?;
    let encryption = encryption(&args)?;
    let job = SegmentJob {
        input,
        out_dir: args.out,
        segmenter: SegmenterConfig {
            target_duration: args.target_duration,
            repeat_headers: !args.no_repeat_headers,
            ..SegmenterConfig::default()
        },
        playlist_key: args.playlist,
        segment_name: match args.format {
            FormatArg::Ts => SegmentNamePattern::with_prefix(&args.prefix),
            FormatArg::Fmp4 => {
                SegmentNamePattern::parse(&format!("{}-{{seq:05}}.m4s", args.prefix))
                    .context("--name")?
            }
        },
        first_sequence: args.start_number,
        window,
        progress: true,
        format: match args.format {
            FormatArg::Ts => SegmentFormat::Ts,
            FormatArg::Fmp4 => SegmentFormat::Fmp4 {
                init_name: format!("{}-init-{{n}}.mp4", args.prefix),
            },
        },
        encryption,
    };
    let span = tracing::info_span!("segment", input = %job.input);
    let _entered = span.enter();
    let report = segment_job::run(&job).with_context(|| format!("segmenting {}", job.input))?;
    log_damage(&report);
    tracing::info!(
        segments = report.published.segments,
        media_seconds = format!("{:.3}", report.published.media_seconds),
        deleted = report.published.deleted,
        playlist = %job.out_dir.join(&job.playlist_key).display(),
        "done"
    );
    Ok(())
}

/// `--encrypt`, `--rotate-every` and `--key-uri` as a job's encryption.
fn encryption(args: &SegmentArgs) -> anyhow::Result<Option<JobEncryption>> {
    if !args.encrypt {
        return Ok(None);
    }
    let key_name =
        KeyPattern::parse(&format!("{}-{{key:04}}.key", args.prefix)).context("--name")?;
    let key_uri = match &args.key_uri {
        Some(uri) => Some(KeyPattern::parse(uri).context("--key-uri")?),
        None => None,
    };
    if args.rotate_every > 0 && key_uri.as_ref().is_some_and(|uri| !uri.has_number()) {
        bail!(
            "--key-uri needs {{key}} when keys rotate (--rotate-every > 0): each key has its own URI"
        );
    }
    Ok(Some(JobEncryption {
        rotate_every: args.rotate_every,
        key_name,
        key_uri,
    }))
}

fn check_file_name(flag: &str, name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        bail!("{flag} must be a plain file name, got {name:?}");
    }
    Ok(())
}

/// One warning summarising what was wrong with the input, if anything was.
fn log_damage(report: &JobReport) {
    let f = &report.framing;
    let s = &report.segmenter;
    let damaged = f.skipped_bytes
        + f.sync_losses
        + f.truncated_tail_bytes
        + s.transport_errors
        + s.continuity_errors
        + s.psi_errors;
    if damaged > 0 {
        tracing::warn!(
            sync_losses = f.sync_losses,
            skipped_bytes = f.skipped_bytes,
            truncated_tail_bytes = f.truncated_tail_bytes,
            continuity_errors = s.continuity_errors,
            transport_errors = s.transport_errors,
            psi_errors = s.psi_errors,
            "input was damaged; damaged parts were skipped"
        );
    }
    if report.remux_failures > 0 {
        tracing::warn!(
            segments = report.remux_failures,
            "segments that could not be remuxed to fMP4 were skipped"
        );
    }
    if s.discontinuities > 0 {
        tracing::info!(
            discontinuities = s.discontinuities,
            "timeline breaks marked with EXT-X-DISCONTINUITY"
        );
    }
}
