//! The in-memory sink of the in-process tests: what it holds, a switch that makes it refuse
//! everything like a server that is down, and checks at every playlist put and every delete
//! that no playlist version names an init segment or a key that is not there (beside the
//! segments, or at a key sink).
//!
//! Test-only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use streamrouter_plugin::{ObjectMeta, Sink, SinkError};
use tokio::time::Instant;

use super::testkit::Media;

/// A sink in memory: what it holds, and a switch that makes it refuse everything (temporarily)
/// like a server that is down.
#[derive(Default)]
pub(crate) struct MemorySink {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    down: AtomicBool,
    /// Each object's Content-Type as stored.
    types: Mutex<BTreeMap<String, String>>,
    /// Playlist versions that named (EXT-X-MAP) an init segment not stored at the time.
    missing_objects: Mutex<Vec<String>>,
    /// Where the keys its playlists name by URI are: a key sink, and the URIs' prefix.
    key_sink: Mutex<Option<(String, Arc<MemorySink>)>>,
    /// As a key sink: the sinks whose playlists name its keys, the URIs' prefix, when a
    /// playlist version stored at one of them last named each key, and how long a key must
    /// stay after that.
    key_users: Mutex<(Vec<Weak<MemorySink>>, String, Duration)>,
    named_at: Mutex<BTreeMap<String, Instant>>,
}

impl MemorySink {
    /// Object `key` as text, if stored.
    pub(super) fn text(&self, key: &str) -> Option<String> {
        let objects = self.objects.lock().unwrap();
        objects
            .get(key)
            .map(|body| String::from_utf8_lossy(body).into_owned())
    }

    /// Object `key`'s bytes, if stored.
    pub(super) fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(key).cloned()
    }

    /// Object `key`'s Content-Type as last stored.
    pub(super) fn content_type(&self, key: &str) -> Option<String> {
        self.types.lock().unwrap().get(key).cloned()
    }

    /// Every `PLAYLIST: OBJECT` where a playlist version was stored naming an init segment or
    /// a key file that was not stored then (or `PLAYLIST: OBJECT deleted` when it went while
    /// named).
    pub(super) fn missing_objects(&self) -> Vec<String> {
        self.missing_objects.lock().unwrap().clone()
    }

    /// The keys it holds.
    pub(super) fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    /// Media playlist `key` as stored now, if it is.
    pub(super) fn media(&self, key: &str) -> Option<Media> {
        self.text(key).map(|text| Media::parse(&text))
    }

    /// Makes `key_sink` the store of the keys the playlists of `users` name by URIs starting
    /// with `prefix`: every playlist version they store must name keys it holds, and it must
    /// not delete a key one of their playlists names now, nor sooner than `hold` after a
    /// version naming it was stored (both recorded in [`Self::missing_objects`]).
    pub(super) fn serve_keys(
        key_sink: &Arc<MemorySink>,
        prefix: &str,
        hold: Duration,
        users: &[Arc<MemorySink>],
    ) {
        for user in users {
            *user.key_sink.lock().unwrap() = Some((prefix.to_owned(), Arc::clone(key_sink)));
        }
        let weak = users.iter().map(Arc::downgrade).collect();
        *key_sink.key_users.lock().unwrap() = (weak, prefix.to_owned(), hold);
    }

    /// Whether one of the playlists it holds names URI `uri` in an `#EXT-X-KEY`.
    fn names_key(&self, uri: &str) -> Option<String> {
        let objects = self.objects.lock().unwrap();
        let line = format!("#EXT-X-KEY:METHOD=AES-128,URI=\"{uri}\"");
        (objects.iter())
            .filter(|(k, _)| k.ends_with(".m3u8"))
            .find(|(_, text)| String::from_utf8_lossy(text).contains(&line))
            .map(|(k, _)| k.clone())
    }

    /// Checks the keys a playlist version being stored names by URI are at the key sink.
    fn check_keys_named(&self, playlist: &str, text: &str) {
        let Some((prefix, keys)) = self.key_sink.lock().unwrap().clone() else {
            return;
        };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("#EXT-X-KEY:METHOD=AES-128,URI=\"") else {
                continue;
            };
            let Some(name) = rest.split('"').next().and_then(|u| u.strip_prefix(&prefix)) else {
                continue;
            };
            if keys.bytes(name).is_none() {
                let missing = format!("{playlist}: key {name} not at the key sink");
                self.missing_objects.lock().unwrap().push(missing);
            }
            keys.named_at
                .lock()
                .unwrap()
                .insert(name.to_owned(), Instant::now());
        }
    }

    /// As a key sink: checks no user names key `key` now, nor did within the hold.
    fn check_key_deleted(&self, key: &str) {
        let (users, prefix, hold) = self.key_users.lock().unwrap().clone();
        let mut problems = Vec::new();
        for user in users.iter().filter_map(Weak::upgrade) {
            if let Some(playlist) = user.names_key(&format!("{prefix}{key}")) {
                problems.push(format!("{playlist}: key {key} deleted while named"));
            }
        }
        if let Some(named) = self.named_at.lock().unwrap().get(key)
            && named.elapsed() < hold
        {
            problems.push(format!(
                "key {key} deleted {:?} after last named",
                named.elapsed()
            ));
        }
        self.missing_objects.lock().unwrap().extend(problems);
    }

    /// Down (every call fails, temporarily) or up again.
    pub(super) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn refuse(&self, key: &str) -> Result<(), SinkError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(SinkError::temporary(key, "connection refused"));
        }
        Ok(())
    }
}

impl Sink for MemorySink {
    fn put(&self, key: &str, body: &[u8], meta: &ObjectMeta<'_>) -> Result<(), SinkError> {
        self.refuse(key)?;
        let mut objects = self.objects.lock().unwrap();
        if key.ends_with(".m3u8") {
            self.check_keys_named(key, &String::from_utf8_lossy(body));
            let dir = key.rsplit_once('/').map_or("", |(dir, _)| dir);
            for line in String::from_utf8_lossy(body).lines() {
                let Some(uri) = named_object(line) else {
                    continue;
                };
                let init = match dir {
                    "" => uri.to_owned(),
                    dir => format!("{dir}/{uri}"),
                };
                if !objects.contains_key(&init) {
                    self.missing_objects
                        .lock()
                        .unwrap()
                        .push(format!("{key}: {init}"));
                }
            }
        }
        objects.insert(key.to_owned(), body.to_vec());
        let types = &mut self.types.lock().unwrap();
        types.insert(key.to_owned(), meta.content_type.to_owned());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), SinkError> {
        self.refuse(key)?;
        // Before its own lock: a user's put holds the user's, then this one's.
        self.check_key_deleted(key);
        let mut objects = self.objects.lock().unwrap();
        let name = key.rsplit('/').next().unwrap_or(key);
        for (playlist, text) in objects.iter().filter(|(k, _)| k.ends_with(".m3u8")) {
            let text = String::from_utf8_lossy(text);
            if (text.lines().filter_map(named_object))
                .any(|uri| uri.rsplit('/').next() == Some(name))
            {
                self.missing_objects
                    .lock()
                    .unwrap()
                    .push(format!("{playlist}: {key} deleted"));
            }
        }
        objects.remove(key);
        Ok(())
    }
}

/// The object a playlist line names beside the segments, relative to the playlist: an init
/// segment (EXT-X-MAP) or a key file (EXT-X-KEY with a relative URI).
fn named_object(line: &str) -> Option<&str> {
    let rest = (line.strip_prefix("#EXT-X-MAP:URI=\""))
        .or_else(|| line.strip_prefix("#EXT-X-KEY:METHOD=AES-128,URI=\""))?;
    let uri = rest.split('"').next()?;
    (!uri.contains("://")).then_some(uri)
}
