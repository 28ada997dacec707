//! Sequence numbers that survive restarts: one small file per playlist under `state_dir`, so a
//! restarted daemon never reuses a segment name (a CDN may cache the old one forever).
//!
//! Owns the files under `state_dir/playlists/`; nothing else.

use std::io;
use std::path::{Path, PathBuf};

/// Where a playlist's next sequence number is kept; `None` keeps it in memory only.
#[derive(Debug, Clone)]
pub struct SequenceStore {
    file: Option<PathBuf>,
}

impl SequenceStore {
    /// The store of playlist `name` under `state_dir`.
    pub fn new(state_dir: Option<&Path>, name: &str) -> Self {
        let file = state_dir.map(|dir| {
            let safe = super::safe_file_name(name);
            dir.join("playlists").join(format!("{safe}.next"))
        });
        Self { file }
    }

    /// The next sequence number to use: the stored one, or 1.
    pub async fn load(&self) -> u64 {
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

    /// Records that numbers below `next` are taken (atomically: temp file + rename).
    pub async fn save(&self, next: u64) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let temp = file.with_extension("next.tmp");
        tokio::fs::write(&temp, format!("{next}\n")).await?;
        tokio::fs::rename(&temp, file).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
