//! Sequence numbers that survive restarts: one small file per playlist under `state_dir`, so a
//! restarted daemon never reuses a segment name (a CDN may cache the old one forever). An fMP4
//! playlist also keeps its last init segment's number and checksum there (`NAME.init`), so a
//! restart names the same init the same and a changed one anew, never overwriting an init
//! that listed segments still need, and where its fMP4 timeline ends (`NAME.timeline`), so
//! a restart goes on after it rather than back to the source's timestamps. An encrypted
//! playlist keeps the number its next AES-128 key gets (`NAME.keys`), taken before the key is
//! made, so a restart never reuses a key number (the keys themselves are in the sinks'
//! journals and at the sinks that store them), and, with a key sink, which keys it was sent
//! for deletion and which it keeps for good (`NAME.keyledger`, see `key_floors`), so that no
//! key is deleted twice nor one kept for a sink that left deleted after a restart.
//!
//! Owns the files under `state_dir/playlists/`; nothing else.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::key_floors::KeyLedger;

/// The last init segment a playlist stored: its number `n` and the CRC-32 of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitMark {
    /// Its number in `init_name`.
    pub n: u64,
    /// CRC-32 of its bytes.
    pub crc: u32,
}

/// Where a playlist's next sequence number is kept; `None` keeps it in memory only.
#[derive(Debug, Clone)]
pub struct SequenceStore {
    /// The playlist's name.
    playlist: String,
    file: Option<PathBuf>,
    /// The last init, shared by the store's clones (a restarted playlist task gets its
    /// predecessor's store).
    init: Arc<Mutex<Option<InitMark>>>,
    /// Where the fMP4 timeline ends (90 kHz), shared the same way.
    timeline: Arc<Mutex<Option<i64>>>,
    /// The number the next key gets, shared the same way.
    next_key: Arc<Mutex<Option<u64>>>,
    /// The key ledger, shared the same way.
    ledger: Arc<Mutex<Option<KeyLedger>>>,
    /// In a cluster: the number is kept in etcd too (and read from there).
    shared: Option<SharedNumber>,
}

/// A playlist's number as a cluster keeps it.
#[derive(Debug, Clone)]
struct SharedNumber {
    numbers: crate::cluster::Numbers,
    feed: String,
    playlist: String,
}

impl SequenceStore {
    /// The store of playlist `name` under `state_dir`.
    pub fn new(state_dir: Option<&Path>, name: &str) -> Self {
        let file = state_dir.map(|dir| {
            let safe = super::safe_file_name(name);
            dir.join("playlists").join(format!("{safe}.next"))
        });
        Self {
            playlist: name.to_owned(),
            file,
            init: Arc::default(),
            timeline: Arc::default(),
            next_key: Arc::default(),
            ledger: Arc::default(),
            shared: None,
        }
    }

    /// The store of playlist `playlist` of `feed` in a cluster: its number is the one in
    /// etcd, where every router numbering it records the numbers it takes.
    pub fn shared(mut self, numbers: crate::cluster::Numbers, feed: String) -> Self {
        let playlist = self.playlist.clone();
        self.shared = Some(SharedNumber {
            numbers,
            feed,
            playlist,
        });
        self
    }

    /// Whether the number is shared with other routers (a cluster): a playlist starting here
    /// may go on from another router, after a discontinuity.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The last init segment stored (in memory, else from its file).
    pub async fn load_init(&self) -> Option<InitMark> {
        if let Some(mark) = *self.init.lock().unwrap_or_else(PoisonError::into_inner) {
            return Some(mark);
        }
        let text = self.read_file("init").await?;
        let (n, crc) = text.trim().split_once(' ')?;
        let mark = InitMark {
            n: n.parse().ok()?,
            crc: u32::from_str_radix(crc, 16).ok()?,
        };
        *self.init.lock().unwrap_or_else(PoisonError::into_inner) = Some(mark);
        Some(mark)
    }

    /// Records the init segment just handed to the sinks.
    pub async fn save_init(&self, mark: InitMark) -> io::Result<()> {
        *self.init.lock().unwrap_or_else(PoisonError::into_inner) = Some(mark);
        self.write_file("init", format!("{} {:08x}\n", mark.n, mark.crc))
            .await
    }

    /// Where the playlist's fMP4 timeline ended (in memory, else from its file).
    pub async fn load_timeline(&self) -> Option<i64> {
        if let Some(end) = *self.timeline.lock().unwrap_or_else(PoisonError::into_inner) {
            return Some(end);
        }
        let end = self.read_file("timeline").await?.trim().parse().ok()?;
        *self.timeline.lock().unwrap_or_else(PoisonError::into_inner) = Some(end);
        Some(end)
    }

    /// Records where the fMP4 timeline ends after the fragment just made.
    pub async fn save_timeline(&self, end: i64) -> io::Result<()> {
        *self.timeline.lock().unwrap_or_else(PoisonError::into_inner) = Some(end);
        self.write_file("timeline", format!("{end}\n")).await
    }

    /// Takes the next key number (in memory, else from its file; 0 for a playlist that never
    /// had a key): it is recorded as taken before it is returned, so no restart reuses it.
    pub async fn take_key_number(&self) -> io::Result<u64> {
        let number = self.next_key_number().await?;
        self.write_file("keys", format!("{}\n", number + 1)).await?;
        *self.next_key.lock().unwrap_or_else(PoisonError::into_inner) = Some(number + 1);
        Ok(number)
    }

    /// The number of the last key taken, if any was.
    pub async fn last_key_number(&self) -> io::Result<Option<u64>> {
        Ok(self.next_key_number().await?.checked_sub(1))
    }

    /// The number the next key gets: in memory, else from its file, else 0.
    async fn next_key_number(&self) -> io::Result<u64> {
        let known = *self.next_key.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(next) = known {
            return Ok(next);
        }
        match self.read_file("keys").await {
            Some(text) => text.trim().parse().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "unreadable key number state")
            }),
            None => Ok(0),
        }
    }

    /// The key ledger (in memory, else from its file; empty for a playlist without one).
    pub async fn load_key_ledger(&self) -> io::Result<KeyLedger> {
        let known = self
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(ledger) = known {
            return Ok(ledger);
        }
        let ledger = match self.read_file("keyledger").await {
            Some(text) => KeyLedger::parse(&text)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?,
            None => KeyLedger::default(),
        };
        *self.ledger.lock().unwrap_or_else(PoisonError::into_inner) = Some(ledger.clone());
        Ok(ledger)
    }

    /// Records the key ledger.
    pub async fn save_key_ledger(&self, ledger: &KeyLedger) -> io::Result<()> {
        self.write_file("keyledger", ledger.render()).await?;
        *self.ledger.lock().unwrap_or_else(PoisonError::into_inner) = Some(ledger.clone());
        Ok(())
    }

    /// The next sequence number to use: the stored one, or 1.
    pub async fn load(&self) -> u64 {
        if let Some(shared) = &self.shared {
            let local = self.load_file().await;
            return match shared.numbers.load(&shared.feed, &shared.playlist).await {
                Ok(Some(next)) => next.max(local),
                Ok(None) => local,
                Err(error) => {
                    tracing::warn!(playlist = %shared.playlist, %error, "cluster: cannot read the shared sequence number");
                    local
                }
            };
        }
        self.load_file().await
    }

    /// The number in this router's file.
    async fn load_file(&self) -> u64 {
        let Some(file) = &self.file else {
            return 1;
        };
        match tokio::fs::read_to_string(file).await {
            Ok(text) => text.trim().parse().unwrap_or_else(|_| {
                tracing::warn!(file = %file.display(), "unreadable sequence state; starting at 1");
                1
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 1,
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "cannot read sequence state; starting at 1");
                1
            }
        }
    }

    /// Records that numbers below `next` are taken.
    pub async fn save(&self, next: u64) -> io::Result<()> {
        if let Some(shared) = &self.shared {
            shared
                .numbers
                .save(&shared.feed, &shared.playlist, next)
                .await
                .map_err(io::Error::other)?;
        }
        self.write_file("next", format!("{next}\n")).await
    }

    /// The text of the playlist's state file ending in `extension`, if there is one.
    async fn read_file(&self, extension: &str) -> Option<String> {
        let file = self.file.as_ref()?.with_extension(extension);
        tokio::fs::read_to_string(&file).await.ok()
    }

    /// Replaces the playlist's state file ending in `extension` with `text`, atomically (temp
    /// file + rename); nothing without a `state_dir`.
    async fn write_file(&self, extension: &str, text: String) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = file.with_extension(extension);
        let temp = file.with_extension(format!("{extension}.tmp"));
        tokio::fs::write(&temp, text).await?;
        tokio::fs::rename(&temp, file).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn key_numbers_are_taken_once_across_new_stores_and_clones() {
        let dir = tempfile::tempdir().unwrap();
        let store = SequenceStore::new(Some(dir.path()), "cam");
        assert_eq!(store.take_key_number().await.unwrap(), 0);
        assert_eq!(store.clone().take_key_number().await.unwrap(), 1);
        assert_eq!(store.take_key_number().await.unwrap(), 2);
        let restarted = SequenceStore::new(Some(dir.path()), "cam");
        assert_eq!(restarted.take_key_number().await.unwrap(), 3);
        std::fs::write(dir.path().join("playlists/cam.keys"), "garbage").unwrap();
        let damaged = SequenceStore::new(Some(dir.path()), "cam");
        assert!(damaged.take_key_number().await.is_err());
        let memory = SequenceStore::new(None, "cam");
        assert_eq!(memory.take_key_number().await.unwrap(), 0);
        assert_eq!(memory.take_key_number().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn the_key_ledger_and_the_last_key_survive_a_new_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = SequenceStore::new(Some(dir.path()), "cam");
        assert_eq!(store.last_key_number().await.unwrap(), None);
        assert_eq!(store.load_key_ledger().await.unwrap(), KeyLedger::default());
        store.take_key_number().await.unwrap();
        store.take_key_number().await.unwrap();
        let ledger = KeyLedger {
            below: 4,
            kept: vec![(1, 2)],
        };
        store.save_key_ledger(&ledger).await.unwrap();
        let again = SequenceStore::new(Some(dir.path()), "cam");
        assert_eq!(again.last_key_number().await.unwrap(), Some(1));
        assert_eq!(again.load_key_ledger().await.unwrap(), ledger);
        std::fs::write(dir.path().join("playlists/cam.keyledger"), "below x").unwrap();
        let damaged = SequenceStore::new(Some(dir.path()), "cam");
        assert!(damaged.load_key_ledger().await.is_err());
    }

    #[tokio::test]
    async fn the_timeline_end_survives_a_new_store_and_is_shared_by_clones() {
        let dir = tempfile::tempdir().unwrap();
        let store = SequenceStore::new(Some(dir.path()), "cam");
        assert_eq!(store.load_timeline().await, None);
        store.save_timeline(1_234_567).await.unwrap();
        let again = SequenceStore::new(Some(dir.path()), "cam");
        assert_eq!(again.load_timeline().await, Some(1_234_567));
        let memory = SequenceStore::new(None, "cam");
        memory.clone().save_timeline(9).await.unwrap();
        assert_eq!(memory.load_timeline().await, Some(9));
    }

    #[tokio::test]
    async fn numbers_survive_a_new_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = SequenceStore::new(Some(dir.path()), "ch1.hls");
        assert_eq!(store.load().await, 1);
        store.save(42).await.unwrap();
        assert_eq!(
            SequenceStore::new(Some(dir.path()), "ch1.hls").load().await,
            42
        );
        assert_eq!(SequenceStore::new(None, "x").load().await, 1);
    }

    #[tokio::test]
    async fn the_last_init_survives_a_new_store_and_is_shared_by_clones() {
        let dir = tempfile::tempdir().unwrap();
        let store = SequenceStore::new(Some(dir.path()), "cam");
        assert_eq!(store.load_init().await, None);
        let mark = InitMark {
            n: 3,
            crc: 0xdead_beef,
        };
        store.save_init(mark).await.unwrap();
        let again = SequenceStore::new(Some(dir.path()), "cam");
        assert_eq!(again.load_init().await, Some(mark));
        let memory = SequenceStore::new(None, "cam");
        memory.clone().save_init(mark).await.unwrap();
        assert_eq!(memory.load_init().await, Some(mark));
    }
}
