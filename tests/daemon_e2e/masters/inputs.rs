//! The renditions the master tests feed: made once per build directory by ffmpeg.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::common::ff;

use super::*;

// --------------------------------------------------------------------------------- inputs ---

/// The renditions of one synthetic clip (testsrc2 1280x720 + 440 Hz sine, `LADDER_SECONDS`).
pub(crate) struct Ladder {
    /// 640x360, H.264 Main 3.0, 400 kbit/s.
    pub(crate) low: PathBuf,
    /// 960x540, H.264 Main 3.1, 800 kbit/s.
    pub(crate) mid: PathBuf,
    /// 1280x720, H.264 High 4.0, 1500 kbit/s.
    pub(crate) high: PathBuf,
    /// 416x234, H.264 Constrained Baseline 2.1, 200 kbit/s (no B-frames, so its timeline is
    /// not the others': it is only used with the audio-only rendition).
    pub(crate) mobile: PathBuf,
    /// AAC-LC only, 64 kbit/s.
    pub(crate) audio: PathBuf,
}

/// Runs ffmpeg with `args`, writing into the fresh directory `partial`, then moves it to
/// `done` (another test process may have won the race: then its directory is used).
pub(crate) fn make_once(done: &Path, what: &str, args: &[String]) {
    if done.is_dir() {
        return;
    }
    ff::require_tools();
    let partial = done.with_extension(format!("{}.partial", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).unwrap();
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .current_dir(&partial)
        .stdin(Stdio::null())
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "making {what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if std::fs::rename(&partial, done).is_err() {
        assert!(
            done.is_dir(),
            "cannot move {} into place",
            partial.display()
        );
        let _ = std::fs::remove_dir_all(&partial);
    }
}

/// One H.264 + AAC output of the ladder run.
pub(crate) fn rendition_args(
    label: &str,
    file: &str,
    profile: &str,
    level: &str,
    kbits: u32,
) -> Vec<String> {
    let mut args: Vec<String> = ["-map", &format!("[{label}]"), "-map", "1:a"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            profile,
            "-level:v",
            level,
            "-b:v",
            &format!("{kbits}k"),
            "-maxrate",
            &format!("{kbits}k"),
            "-bufsize",
            &format!("{}k", kbits * 2),
            "-force_key_frames",
            ALIGNED_KEYFRAMES,
            "-sc_threshold",
            "0",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-f",
            "mpegts",
            file,
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    args
}

pub(crate) fn ladder() -> &'static Ladder {
    static LADDER: OnceLock<Ladder> = OnceLock::new();
    LADDER.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("masters_ladder_{LADDER_SECONDS}s_v1"));
        let mut args: Vec<String> = vec![
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("testsrc2=s=1280x720:r=25:d={LADDER_SECONDS}"),
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("sine=f=440:b=4:r=48000:d={LADDER_SECONDS}"),
            "-filter_complex".into(),
            "[0:v]split=4[a][b][c][d];[a]scale=640:360[lo];[b]scale=960:540[mi];[c]null[hi];\
             [d]scale=416:234[mo]"
                .into(),
        ];
        args.extend(rendition_args("lo", "low.ts", "main", "3.0", 400));
        args.extend(rendition_args("mi", "mid.ts", "main", "3.1", 800));
        args.extend(rendition_args("hi", "high.ts", "high", "4.0", 1500));
        args.extend(rendition_args("mo", "mobile.ts", "baseline", "2.1", 200));
        args.extend(
            [
                "-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", "audio.ts",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        make_once(&dir, "the ladder renditions", &args);
        Ladder {
            low: dir.join("low.ts"),
            mid: dir.join("mid.ts"),
            high: dir.join("high.ts"),
            mobile: dir.join("mobile.ts"),
            audio: dir.join("audio.ts"),
        }
    })
}

/// Two renditions of one clip whose keyframes are not aligned: `even.ts` has an IDR every 2 s
/// (0 2 4 …), `odd.ts` at 0 then 1 3 5 ….
pub(crate) fn misaligned_pair() -> (PathBuf, PathBuf) {
    static PAIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("masters_misaligned_{MISALIGNED_SECONDS}s_v1"));
        let common = |extra: &[&str], file: &str| -> Vec<String> {
            let mut args: Vec<&str> = vec!["-map", "0:v", "-map", "1:a", "-c:v", "libx264"];
            args.extend(["-preset", "veryfast", "-sc_threshold", "0", "-b:v", "200k"]);
            args.extend(extra);
            args.extend(["-c:a", "aac", "-b:a", "32k", "-f", "mpegts", file]);
            args.into_iter().map(str::to_owned).collect()
        };
        let mut args: Vec<String> = vec![
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("testsrc2=s=320x180:r=25:d={MISALIGNED_SECONDS}"),
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("sine=f=440:b=4:r=48000:d={MISALIGNED_SECONDS}"),
        ];
        args.extend(common(&["-g", "50", "-keyint_min", "50"], "even.ts"));
        args.extend(common(
            &["-g", "250", "-force_key_frames", "expr:gte(t,1+n_forced*2)"],
            "odd.ts",
        ));
        make_once(&dir, "the misaligned renditions", &args);
        (dir.join("even.ts"), dir.join("odd.ts"))
    })
    .clone()
}
