//! The log filter of every `streamrouter` command: what `RUST_LOG` asks for (or
//! [`DEFAULT_FILTER`]), with the crates that print credentials capped whatever it asks; and the
//! span each graph node's tasks log in ([`node_span`]).
//!
//! The daemon hands its sinks' credentials to libraries that log them (seen running the
//! daemon at `RUST_LOG=trace` against real S3, FTP and SSH servers, and read in their
//! sources):
//!
//! - `reqsign*` (S3 request signing under OpenDAL): `reqsign_core` prints the credential
//!   provider at debug, access key id and secret access key included, and again at warn when
//!   a provider fails; `reqsign_aws_v4` prints signing steps at debug. Nothing it says is worth
//!   the risk: signing errors reach us as OpenDAL errors, which we log. Capped at `off`.
//! - `suppaftp` (FTP under OpenDAL): its trace lines echo every command sent, `PASS <password>`
//!   included. Its debug lines (logins by user name, directories, transfers, replies) carry
//!   no secret and help with an FTP server: capped at `debug`.
//! - `reqwest::connect::verbose`: the raw bytes of HTTP connections, the S3 `Authorization`
//!   header included, at trace. Only clients built with `connection_verbose` write it and
//!   OpenDAL's is not, so this one guards a door that is shut today: capped at `off`.
//!
//! Not capped, because they print no credential: OpenDAL's services (their settings' `Debug`
//! leaves out keys and passwords), `openssh*` (the SSH client reads the key file itself and
//! only its path is ever shown), hyper and reqwest otherwise (no request headers).
//!
//! The caps are a second filter every event must pass, not directives appended to the user's:
//! `EnvFilter` lets the most specific directive win, so `reqsign_core::api=trace` would beat an
//! appended `reqsign=off`, and a span directive such as `[sink]=trace` enables every event in
//! the span whatever its target.

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::registry::LookupSpan;

/// The span the tasks of graph node `node` log in: named by its kind (`source`, `segmenter`,
/// `playlist`, `master`, `sink`), with its name as field `node` (`source{node=cam}`; not
/// `name`, which the JSON formatter uses for the span's own name). Filters such as `[sink]` or
/// `[{node=cdn}]` select a node's lines by them.
pub fn node_span(node: &crate::config::model::NodeId) -> tracing::Span {
    use crate::config::model::NodeKind;
    let name = node.name();
    // A span's name is part of its static metadata: one call per kind.
    match node.kind() {
        NodeKind::Source => tracing::info_span!("source", node = %name),
        NodeKind::Segmenter => tracing::info_span!("segmenter", node = %name),
        NodeKind::Playlist => tracing::info_span!("playlist", node = %name),
        NodeKind::Master => tracing::info_span!("master", node = %name),
        NodeKind::Sink => tracing::info_span!("sink", node = %name),
    }
}

/// The filter without `RUST_LOG` (or with one that does not parse). mpeg2ts-reader and
/// srt-protocol warn per packet (damaged input; each late packet range on an SRT link, which
/// the SRT metrics count instead).
pub const DEFAULT_FILTER: &str = "info,mpeg2ts_reader=error,srt_protocol=error";

/// Targets (and every target they start with) that print credentials beyond a level, with
/// that level: see the module documentation for what each prints.
pub const CREDENTIAL_CAPS: &[(&str, LevelFilter)] = &[
    ("reqsign", LevelFilter::OFF),
    ("suppaftp", LevelFilter::DEBUG),
    ("reqwest::connect::verbose", LevelFilter::OFF),
];

/// The filter for `rust_log` (the value of `RUST_LOG`, if set): its directives, or
/// [`DEFAULT_FILTER`] when it is unset or does not parse, and then [`CREDENTIAL_CAPS`], which
/// no directive can lift. A per-layer filter: `fmt::layer().with_filter(log_filter(..))`.
pub fn log_filter<S>(rust_log: Option<&str>) -> impl Filter<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let wanted = rust_log
        .and_then(|directives| EnvFilter::builder().parse(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let caps = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CREDENTIAL_CAPS.iter().copied());
    wanted.and(caps)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::{Event, Level};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    use super::*;
    use crate::config::model::{NodeId, NodeKind};

    #[test]
    fn a_node_span_is_named_by_its_kind_with_the_node_as_a_field() {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            for kind in NodeKind::ALL {
                let span = node_span(&NodeId::new(kind, "cam"));
                let metadata = span.metadata().unwrap();
                assert_eq!(metadata.name(), kind.noun());
                let fields: Vec<&str> = metadata.fields().iter().map(|f| f.name()).collect();
                assert_eq!(fields, ["node"]);
            }
        });
    }

    /// Records the target and level of every event it is given.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<(String, Level)>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            let meta = event.metadata();
            self.0
                .lock()
                .unwrap()
                .push((meta.target().to_owned(), *meta.level()));
        }
    }

    /// The events `emit` logs that pass the filter for `rust_log`, as `target LEVEL`.
    fn passed(rust_log: Option<&str>, emit: impl FnOnce()) -> Vec<String> {
        let seen = Seen::default();
        let subscriber =
            tracing_subscriber::registry().with(seen.clone().with_filter(log_filter(rust_log)));
        tracing::subscriber::with_default(subscriber, emit);
        let events = seen.0.lock().unwrap();
        events.iter().map(|(t, l)| format!("{t} {l}")).collect()
    }

    /// One event at each level from each credential-bearing target, and from two neighbours
    /// that must not be caught by the caps (`reqwest::connect`, and our own).
    fn every_target_at_every_level() {
        macro_rules! all_levels {
            ($target:literal) => {
                tracing::trace!(target: $target, "t");
                tracing::debug!(target: $target, "d");
                tracing::info!(target: $target, "i");
                tracing::warn!(target: $target, "w");
                tracing::error!(target: $target, "e");
            };
        }
        all_levels!("reqsign_core::api");
        all_levels!("reqsign_aws_v4::sign_request");
        all_levels!("suppaftp::async_ftp::tokio_ftp");
        all_levels!("reqwest::connect::verbose");
        all_levels!("reqwest::connect");
        all_levels!("streamrouter::topology");
    }

    /// What passes when the user's filter allows everything: the caps and nothing else.
    fn capped_everything() -> Vec<String> {
        let mut events = Vec::new();
        for level in ["DEBUG", "INFO", "WARN", "ERROR"] {
            events.push(format!("suppaftp::async_ftp::tokio_ftp {level}"));
        }
        for target in ["reqwest::connect", "streamrouter::topology"] {
            for level in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] {
                events.push(format!("{target} {level}"));
            }
        }
        events.sort();
        events
    }

    fn sorted(mut events: Vec<String>) -> Vec<String> {
        events.sort();
        events
    }

    #[test]
    fn trace_still_keeps_the_credential_bearing_targets_capped() {
        let events = passed(Some("trace"), every_target_at_every_level);
        assert_eq!(sorted(events), capped_everything());
    }

    #[test]
    fn directives_naming_a_capped_target_do_not_lift_its_cap() {
        let rust_log = "trace,reqsign=trace,reqsign_core::api=trace,\
                        suppaftp::async_ftp::tokio_ftp=trace,reqwest::connect::verbose=trace";
        let events = passed(Some(rust_log), every_target_at_every_level);
        assert_eq!(sorted(events), capped_everything());
    }

    #[test]
    fn span_directives_do_not_lift_the_caps() {
        let events = passed(Some("error,[sink]=trace,[{node=cdn}]=trace"), || {
            let span = node_span(&NodeId::sink("cdn"));
            let _entered = span.enter();
            every_target_at_every_level();
        });
        assert_eq!(sorted(events), capped_everything());
    }

    #[test]
    fn without_rust_log_or_with_a_bad_one_the_default_applies() {
        for rust_log in [None, Some("streamrouter=loud")] {
            let events = passed(rust_log, || {
                every_target_at_every_level();
                tracing::warn!(target: "mpeg2ts_reader::demultiplex", "w");
                tracing::error!(target: "mpeg2ts_reader::demultiplex", "e");
            });
            let mut expected = Vec::new();
            for level in ["INFO", "WARN", "ERROR"] {
                for target in [
                    "suppaftp::async_ftp::tokio_ftp",
                    "reqwest::connect",
                    "streamrouter::topology",
                ] {
                    expected.push(format!("{target} {level}"));
                }
            }
            expected.push("mpeg2ts_reader::demultiplex ERROR".to_owned());
            assert_eq!(sorted(events), sorted(expected), "{rust_log:?}");
        }
    }

    #[test]
    fn the_caps_never_raise_what_the_user_asked_for() {
        let events = passed(Some("warn,streamrouter=debug"), every_target_at_every_level);
        let mut expected = Vec::new();
        for target in ["suppaftp::async_ftp::tokio_ftp", "reqwest::connect"] {
            for level in ["WARN", "ERROR"] {
                expected.push(format!("{target} {level}"));
            }
        }
        for level in ["DEBUG", "INFO", "WARN", "ERROR"] {
            expected.push(format!("streamrouter::topology {level}"));
        }
        assert_eq!(sorted(events), sorted(expected));
    }
}
