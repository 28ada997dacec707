//! `segment --encrypt`: each cut (or fMP4 fragment) encrypted in place on a second thread
//! while the next one is cut, so that AES-128-CBC (about a gigabyte a second on one core, as
//! fast as cutting itself) overlaps with the rest of the job; sealed segments come back in
//! order and are published by the job's thread, keys first.
//!
//! Owns the encryption thread and the key numbering of a job (keys from 0, as the output is
//! new). Never touches the sink.

use std::sync::mpsc;
use std::thread;

use super::{JobEncryption, JobError};
use crate::publish::encryption::{EncryptionError, Sealer, Sealing, SegmentKey};
use crate::segmenter::Segment;

/// Segments handed to the encryption thread and not yet taken back, at most (a bound on memory).
const IN_FLIGHT: usize = 2;

/// A job's encryption: the sealer, the next key's number and the encryption thread.
pub(super) struct JobSealer {
    sealer: Sealer,
    next_number: u64,
    jobs: Option<mpsc::SyncSender<(Segment, Sealing)>>,
    sealed: mpsc::Receiver<Segment>,
    in_flight: usize,
}

impl JobSealer {
    /// A sealer with its encryption thread started.
    pub(super) fn start(encryption: JobEncryption) -> Self {
        let (jobs, queued) = mpsc::sync_channel::<(Segment, Sealing)>(IN_FLIGHT - 1);
        let (done, sealed) = mpsc::channel();
        thread::spawn(move || {
            for (segment, sealing) in queued {
                if done.send(sealing.apply(segment)).is_err() {
                    break;
                }
            }
        });
        Self {
            sealer: Sealer::new(
                encryption.rotate_every,
                encryption.key_name,
                encryption.key_uri,
                true,
            ),
            next_number: 0,
            jobs: Some(jobs),
            sealed,
            in_flight: 0,
        }
    }

    /// Hands `segment` to the encryption thread as the one numbered `next_sequence` plus the
    /// segments still in flight (with a new key when due); the sealed segments that are back
    /// by then, in order.
    pub(super) fn submit(
        &mut self,
        segment: Segment,
        next_sequence: u64,
    ) -> Result<Vec<Segment>, JobError> {
        if self.sealer.wants_key() {
            self.sealer.use_key(SegmentKey::random(self.next_number)?);
            self.next_number += 1;
        }
        let sequence = next_sequence + self.in_flight as u64;
        let sealing = (self.sealer.sealing(sequence)).ok_or(EncryptionError::NoKey)?;
        let mut back = Vec::new();
        // Room for it: the oldest comes back first.
        while self.in_flight >= IN_FLIGHT {
            back.push(self.take()?);
        }
        let jobs = self.jobs.as_ref().ok_or(EncryptionError::Stopped)?;
        jobs.send((segment, sealing))
            .map_err(|_| EncryptionError::Stopped)?;
        self.in_flight += 1;
        while let Ok(sealed) = self.sealed.try_recv() {
            self.in_flight -= 1;
            back.push(sealed);
        }
        Ok(back)
    }

    /// Every segment still in flight, sealed, in order.
    pub(super) fn drain(&mut self) -> Result<Vec<Segment>, JobError> {
        let mut back = Vec::new();
        while self.in_flight > 0 {
            back.push(self.take()?);
        }
        Ok(back)
    }

    fn take(&mut self) -> Result<Segment, JobError> {
        let sealed = self.sealed.recv().map_err(|_| EncryptionError::Stopped)?;
        self.in_flight -= 1;
        Ok(sealed)
    }
}

impl Drop for JobSealer {
    fn drop(&mut self) {
        // Closing the queue ends the thread.
        self.jobs = None;
    }
}
