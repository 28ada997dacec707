//! What the daemon says about itself: the config generation running and what the last reload
//! did, kept for operators (served as JSON at `/status` by the HTTP server).
//!
//! Plain data, serialisable; never holds a config value (secrets stay out: errors and
//! summaries name files, lines, nodes and keys only).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// The daemon's state as reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DaemonStatus {
    /// Applied configs so far: 1 for the one the daemon started with, +1 per applied reload.
    pub generation: u64,
    /// The last reload, if any was tried.
    pub last_reload: Option<ReloadReport>,
    /// Problems nodes report while they run (e.g. a master's variants not aligned), by node.
    pub alerts: BTreeMap<String, String>,
}

/// Problems running nodes report, shared between the nodes and the status endpoint.
#[derive(Debug, Clone, Default)]
pub struct Alerts(Arc<Mutex<BTreeMap<String, String>>>);

impl Alerts {
    /// Node `node` has this problem now (replacing what it said before).
    pub fn raise(&self, node: &str, message: String) {
        self.lock().insert(node.to_owned(), message);
    }

    /// Node `node` no longer has a problem.
    pub fn clear(&self, node: &str) {
        self.lock().remove(node);
    }

    /// What is reported now.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What one reload did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadReport {
    /// Applied, nothing to do, or refused.
    pub result: ReloadResult,
    /// When it finished (RFC 3339, UTC).
    pub at: String,
    /// The change, node by node (names and keys only); empty when refused.
    pub summary: String,
    /// Why it was refused: one line per problem, `FILE:LINE:COL: error: KEY: MESSAGE`.
    pub errors: Vec<String>,
}

/// The outcome of a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReloadResult {
    /// The new config runs.
    Applied,
    /// The new config is the running one.
    Unchanged,
    /// The new config has errors or changes what cannot change live; the old one runs on.
    Refused,
}

impl ReloadReport {
    /// A report dated now.
    pub fn now(result: ReloadResult, summary: String, errors: Vec<String>) -> Self {
        Self {
            result,
            at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            summary,
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_reload_serialises_with_its_errors() {
        let status = DaemonStatus {
            generation: 3,
            last_reload: Some(ReloadReport {
                result: ReloadResult::Refused,
                at: "2026-11-25T12:00:00Z".into(),
                summary: String::new(),
                errors: vec!["a.toml:3:1: error: playlists.b.input: no such segmenter".into()],
            }),
            alerts: BTreeMap::from([("masters.m".into(), "variants not aligned".into())]),
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["generation"], 3);
        assert_eq!(json["last_reload"]["result"], "refused");
        assert_eq!(
            json["last_reload"]["errors"][0],
            "a.toml:3:1: error: playlists.b.input: no such segmenter"
        );
        assert_eq!(json["alerts"]["masters.m"], "variants not aligned");
    }
}
