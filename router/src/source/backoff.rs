//! Reopening a source: its retry delays (0.5 s doubling to 30 s, back to 0.5 s once an attempt
//! stayed up for a healthy period; [`crate::backoff`] draws them, with jitter), and the
//! shutdown-aware sleep every kind uses.
//!
//! Owns only timing decisions. Must not touch inputs or events.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Stop;
use crate::backoff::Schedule;

/// A source's retry delays.
pub(crate) const SCHEDULE: Schedule = Schedule {
    first: Duration::from_millis(500),
    max: Duration::from_secs(30),
    healthy: Duration::from_secs(10),
};

/// Backoff between a source's attempts.
#[derive(Debug)]
pub(crate) struct Backoff {
    delays: crate::backoff::Backoff,
    up_since: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            delays: crate::backoff::Backoff::new(SCHEDULE),
            up_since: None,
        }
    }
}

impl Backoff {
    /// An attempt succeeded (connected, spawned, opened): if it lasts [`Schedule::healthy`],
    /// the next delay starts over.
    pub(crate) fn up(&mut self) {
        self.up_since = Some(Instant::now());
    }

    /// The delay before the next attempt; doubles the one after.
    pub(crate) fn next_delay(&mut self) -> Duration {
        self.next_delay_at(Instant::now())
    }

    fn next_delay_at(&mut self, now: Instant) -> Duration {
        let ran = (self.up_since.take())
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        self.delays.next_after(ran)
    }

    /// Sleeps for the next delay, or returns `Stop::Shutdown` as soon as `shutdown` fires.
    pub(crate) async fn wait(&mut self, shutdown: &CancellationToken) -> Result<(), Stop> {
        let delay = self.next_delay();
        tracing::debug!(delay_ms = delay.as_millis() as u64, "retrying after delay");
        sleep(delay, shutdown).await
    }
}

/// Sleeps for `duration` unless `shutdown` fires first.
pub(crate) async fn sleep(duration: Duration, shutdown: &CancellationToken) -> Result<(), Stop> {
    sleep_until(Instant::now() + duration, shutdown).await
}

/// Sleeps until `deadline` unless `shutdown` fires first.
pub(crate) async fn sleep_until(
    deadline: Instant,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => Err(Stop::Shutdown),
        () = tokio::time::sleep_until(deadline) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `delay` is `base` less at most a fifth (the jitter).
    fn assert_about(delay: Duration, base: Duration) {
        assert!(
            delay <= base && delay >= base.mul_f64(0.8),
            "{delay:?} vs {base:?}"
        );
    }

    #[test]
    fn doubles_up_to_the_maximum() {
        let mut backoff = Backoff::default();
        for millis in [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000] {
            assert_about(backoff.next_delay(), Duration::from_millis(millis));
        }
    }

    #[test]
    fn healthy_attempt_resets_short_one_does_not() {
        let mut backoff = Backoff::default();
        backoff.next_delay();
        backoff.next_delay();
        backoff.up();
        let short = Instant::now() + Duration::from_secs(1);
        assert_about(backoff.next_delay_at(short), Duration::from_secs(2));
        backoff.up();
        let long = Instant::now() + SCHEDULE.healthy;
        assert_about(backoff.next_delay_at(long), SCHEDULE.first);
        assert_about(backoff.next_delay_at(long), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn sleep_stops_on_shutdown() {
        let token = CancellationToken::new();
        token.cancel();
        let started = std::time::Instant::now();
        assert_eq!(
            sleep(Duration::from_secs(30), &token).await,
            Err(Stop::Shutdown)
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
