//! `streamrouter archive list CONFIG [--feed NAME] [--listen ADDR] [--json]`: the archives each
//! sink holds (period, state, duration, segments, playlist key, expiry), read from the sinks'
//! journals under `state_dir`, or from the running daemon's `/archives` for the journals it
//! holds open.
//!
//! Owns the table and the choice between the two readers; changes nothing.

use std::fmt::Write;
use std::net::SocketAddr;

use anyhow::{Context, bail};
use streamrouter::publish::journal::{ArchiveRecord, JournalError, read_archives};
use streamrouter::topology::sink_journal_dir;

use super::daemon::load;

/// `archive` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// List the archives each sink holds: period, state, duration, segments, key, expiry.
    List(ListArgs),
}

/// `archive list` arguments.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Config file, or a directory whose *.toml files are merged.
    config: std::path::PathBuf,
    /// Only this feed's archives (a feed instance, or a playlist's name).
    #[arg(long, value_name = "NAME")]
    feed: Option<String>,
    /// The running daemon's `[router] listen` address (default: the config's), asked for the
    /// journals it holds.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Print JSON (one array of archives) instead of a table.
    #[arg(long)]
    json: bool,
}

/// `streamrouter archive …`.
pub fn run(command: ArchiveCommand) -> anyhow::Result<()> {
    let ArchiveCommand::List(args) = command;
    let graph = load(&args.config)?;
    let Some(state_dir) = &graph.router.state_dir else {
        bail!(
            "{}: no [router] state_dir: archives are recorded in the sinks' journals under it",
            args.config.display()
        );
    };
    let mut records = Vec::new();
    let mut held = Vec::new();
    for sink in graph.sinks.keys() {
        match read_archives(&sink_journal_dir(state_dir, sink), sink) {
            Ok(found) => records.extend(found),
            Err(JournalError::Busy { .. }) => held.push(sink.clone()),
            Err(error) => return Err(error).with_context(|| format!("sink `{sink}`")),
        }
    }
    if !held.is_empty() {
        let held_by = format!(
            "the journals of {} are held by a running daemon",
            held.join(", ")
        );
        let listen = match (args.listen, graph.router.listen) {
            (Some(listen), _) => listen,
            (None, Some(listen)) if listen.port() != 0 => listen,
            (None, Some(_)) => bail!(
                "{held_by}; the config's [router] listen picks a free port: pass --listen with \
                 the address the daemon printed"
            ),
            (None, None) => bail!("{held_by}; set [router] listen or pass --listen to ask it"),
        };
        let running = from_daemon(listen, args.feed.as_deref())?;
        records.extend(running.into_iter().filter(|r| held.contains(&r.sink)));
    }
    if let Some(feed) = &args.feed {
        records.retain(|record| record.in_feed(feed));
    }
    records.sort_by(|a, b| (&a.sink, &a.playlist, &a.start).cmp(&(&b.sink, &b.playlist, &b.start)));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        print!("{}", render(&records));
    }
    Ok(())
}

/// The running daemon's `/archives` at `listen`.
fn from_daemon(listen: SocketAddr, feed: Option<&str>) -> anyhow::Result<Vec<ArchiveRecord>> {
    let url = format!("http://{listen}/archives");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let query: Vec<(&str, &str)> = feed.map(|feed| ("feed", feed)).into_iter().collect();
    let request = reqwest::Url::parse_with_params(&url, &query).context("the daemon's URL")?;
    let body = runtime.block_on(async {
        let response = reqwest::get(request).await?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.text().await?))
    });
    let (code, text) = body.with_context(|| format!("cannot reach the daemon at {url}"))?;
    if !code.is_success() {
        bail!("{url}: {code}: {}", text.trim());
    }
    serde_json::from_str(&text).with_context(|| format!("{url}: not a list of archives"))
}

/// The archives as a table, one per line.
fn render(records: &[ArchiveRecord]) -> String {
    let mut out = String::new();
    if records.is_empty() {
        out.push_str("no archives\n");
        return out;
    }
    let width = |column: fn(&ArchiveRecord) -> usize, title: &str| {
        (records.iter().map(column).max().unwrap_or(0)).max(title.len())
    };
    let sink_width = width(|r| r.sink.len(), "SINK");
    let playlist_width = width(|r| r.playlist.len(), "PLAYLIST");
    let key_width = width(|r| r.key.len(), "KEY");
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{:sink_width$}  {:playlist_width$}  {:20}  {:20}  {:8}  {:>10}  {:>8}  {:key_width$}  EXPIRES",
        "SINK", "PLAYLIST", "START", "END", "STATE", "DURATION", "SEGMENTS", "KEY"
    );
    for record in records {
        let state = if record.finished { "finished" } else { "open" };
        let _ = writeln!(
            out,
            "{:sink_width$}  {:playlist_width$}  {:20}  {:20}  {state:8}  {:>9.1}s  {:>8}  {:key_width$}  {}",
            record.sink,
            record.playlist,
            record.start,
            record.end.as_deref().unwrap_or("-"),
            record.duration,
            record.segments,
            record.key,
            record.expires.as_deref().unwrap_or("-"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(playlist: &str, finished: bool) -> ArchiveRecord {
        ArchiveRecord {
            sink: "web".into(),
            playlist: playlist.into(),
            key: "archive/20261202T010000Z.m3u8".into(),
            start: "2026-12-02T01:00:00Z".into(),
            end: Some("2026-12-02T02:00:00Z".into()),
            finished,
            duration: 3599.96,
            segments: 900,
            first: Some(1),
            last: Some(900),
            expires: finished.then(|| "2026-12-09T02:00:00Z".into()),
        }
    }

    #[test]
    fn the_table_has_a_line_per_archive_with_its_period_state_and_expiry() {
        let table = render(&[record("cam", true), record("cam", false)]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].starts_with("SINK  PLAYLIST  START"), "{table}");
        assert!(
            lines[1].contains(
                "cam       2026-12-02T01:00:00Z  2026-12-02T02:00:00Z  finished     3600.0s       900  archive/20261202T010000Z.m3u8  2026-12-09T02:00:00Z"
            ),
            "{table}"
        );
        assert!(lines[2].contains("  open  "), "{table}");
        assert!(lines[2].ends_with("  -"), "{table}");
        assert_eq!(render(&[]), "no archives\n");
    }

    #[test]
    fn a_feed_holds_its_own_playlists_only() {
        assert!(record("cam", true).in_feed("cam"));
        assert!(record("cam.hd", true).in_feed("cam"));
        assert!(!record("camera.hd", true).in_feed("cam"));
        assert!(!record("cam", true).in_feed("cam.hd"));
    }
}
