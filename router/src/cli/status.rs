//! `streamrouter status [--listen ADDR]`: the running daemon's `/status` as a table: the config
//! generation and last reload, alerts, then every node with its state, since when, and its last
//! error. Exit code 1 when the daemon cannot be reached.

use std::fmt::Write;
use std::net::SocketAddr;

use anyhow::{Context, bail};
use serde_json::Value;

/// Where `[router] listen` usually is.
const DEFAULT_LISTEN: &str = "127.0.0.1:9750";
/// Characters of an error shown in the table (the JSON has all of it).
const ERROR_WIDTH: usize = 100;

/// `status` arguments.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The daemon's `[router] listen` address.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
}

/// `streamrouter status`.
pub fn status(args: StatusArgs) -> anyhow::Result<()> {
    let url = format!("http://{}/status", args.listen);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let body = runtime.block_on(async {
        let response = reqwest::get(&url).await?;
        let status = response.status();
        let text = response.text().await?;
        Ok::<_, reqwest::Error>((status, text))
    });
    let (code, text) = body.with_context(|| {
        format!("cannot reach the daemon at {url} (is `[router] listen` set to this address?)")
    })?;
    if !code.is_success() {
        bail!("{url}: {code}");
    }
    let status: Value = serde_json::from_str(&text).with_context(|| format!("{url}: not JSON"))?;
    print!("{}", render(&status));
    Ok(())
}

/// The status as text.
fn render(status: &Value) -> String {
    let mut out = String::new();
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    // Writing to a String cannot fail.
    let _ = write!(out, "generation {}", status["generation"]);
    match status.get("last_reload").filter(|reload| !reload.is_null()) {
        Some(reload) => {
            let _ = writeln!(
                out,
                ", last reload {} at {}",
                text(&reload["result"]),
                text(&reload["at"])
            );
            if let Some(summary) = reload["summary"].as_str().filter(|s| !s.is_empty()) {
                let _ = writeln!(out, "  {summary}");
            }
            for error in reload["errors"].as_array().into_iter().flatten() {
                let _ = writeln!(out, "  {}", text(error));
            }
        }
        None => out.push_str(", no reload yet\n"),
    }
    if let Some(alerts) = status["alerts"].as_object().filter(|a| !a.is_empty()) {
        out.push_str("alerts:\n");
        for (node, message) in alerts {
            let _ = writeln!(out, "  {node}: {}", text(message));
        }
    }
    let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
    let width = nodes
        .iter()
        .map(|node| text(&node["node"]).len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:width$}  {:10}  {:20}  LAST ERROR",
        "NODE", "STATE", "SINCE"
    );
    for node in &nodes {
        let mut error = text(&node["last_error"]);
        if error.chars().count() > ERROR_WIDTH {
            error = error.chars().take(ERROR_WIDTH - 1).collect::<String>() + "…";
        }
        let _ = writeln!(
            out,
            "{:width$}  {:10}  {:20}  {error}",
            text(&node["node"]),
            text(&node["state"]),
            text(&node["since"]),
        );
        if let Some(link) = node.get("srt").filter(|link| link.is_object()) {
            let _ = writeln!(out, "  {}", srt_line(link));
        }
    }
    out
}

/// An SRT source's link on one line.
fn srt_line(link: &Value) -> String {
    let count = |key: &str| link[key].as_u64().unwrap_or(0);
    let peer = match link["peer"].as_str() {
        Some(peer) => format!("peer {peer}"),
        None => "not connected".to_owned(),
    };
    let rtt = match link["handshake_rtt_us"].as_u64() {
        Some(us) => format!("{:.1} ms", us as f64 / 1000.0),
        None => "-".to_owned(),
    };
    let mbits = count("receive_bits_per_second") as f64 / 1e6;
    format!(
        "srt: {peer} · rtt {rtt} · {mbits:.2} Mbit/s · {} received · {} loss reports · \
         {} retransmitted · {} dropped · {} connections",
        count("packets_received"),
        count("loss_reports"),
        count("packets_retransmitted"),
        count("packets_dropped"),
        count("connections"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_reload_errors_alerts_and_every_node() {
        let status = serde_json::json!({
            "generation": 4,
            "last_reload": {"result": "refused", "at": "2026-11-25T12:00:00Z", "summary": "",
                            "errors": ["a.toml:3:9: error: playlists.b.input: no segmenter named `x`"]},
            "alerts": {"masters.m": "variants not aligned"},
            "nodes": [
                {"node": "sinks.cdn", "kind": "sink", "name": "cdn", "state": "retrying",
                 "last_error": "connection refused", "since": "2026-11-25T12:00:01Z"},
                {"node": "sources.cam1", "kind": "source", "name": "cam1", "state": "live",
                 "last_error": null, "since": "2026-11-25T11:00:00Z",
                 "srt": {"peer": "203.0.113.7:50123", "connections": 2, "handshake_rtt_us": 41000,
                         "receive_bits_per_second": 2048000, "packets_received": 18200,
                         "loss_reports": 3, "packets_retransmitted": 3, "packets_dropped": 1}},
                {"node": "segmenters.cam1", "kind": "segmenter", "name": "cam1",
                 "state": "restarting", "last_error": "panicked: boom",
                 "since": "2026-11-25T12:00:02Z"}
            ],
            "streams": []
        });
        let table = render(&status);
        assert!(
            table.starts_with("generation 4, last reload refused at 2026-11-25T12:00:00Z\n"),
            "{table}"
        );
        assert!(
            table.contains("  a.toml:3:9: error: playlists.b.input"),
            "{table}"
        );
        assert!(
            table.contains("alerts:\n  masters.m: variants not aligned\n"),
            "{table}"
        );
        assert!(
            table.contains(
                "sinks.cdn        retrying    2026-11-25T12:00:01Z  connection refused\n"
            ),
            "{table}"
        );
        assert!(
            table.contains("sources.cam1     live        2026-11-25T11:00:00Z  -\n"),
            "{table}"
        );
        assert!(
            table.contains(
                "  srt: peer 203.0.113.7:50123 · rtt 41.0 ms · 2.05 Mbit/s · 18200 received · \
                 3 loss reports · 3 retransmitted · 1 dropped · 2 connections\n"
            ),
            "{table}"
        );
        assert!(
            table.contains("segmenters.cam1  restarting  2026-11-25T12:00:02Z  panicked: boom\n"),
            "{table}"
        );
    }
}
