//! Retry delays: 0.5 s doubling to 30 s, back to 0.5 s once an attempt stayed up for a healthy
//! period; and the shutdown-aware sleep every kind uses.
//!
//! Owns only timing decisions. Must not touch inputs or events.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Stop;

/// First retry delay.
pub(crate) const INITIAL: Duration = Duration::from_millis(500);
/// Longest retry delay.
pub(crate) const MAX: Duration = Duration::from_secs(30);
/// An attempt that lasted this long resets the delay to [`INITIAL`].
pub(crate) const HEALTHY: Duration = Duration::from_secs(10);

/// Exponential backoff between attempts (no jitter: every source retries on its own schedule).
#[derive(Debug)]
pub(crate) struct Backoff {
    delay: Duration,
    up_since: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            delay: INITIAL,
            up_since: None,
        }
    }
}

impl Backoff {
    /// An attempt succeeded (connected, spawned, opened): if it lasts [`HEALTHY`], the next
    /// delay starts over.
    pub(crate) fn up(&mut self) {
        self.up_since = Some(Instant::now());
    }

    /// The delay before the next attempt; doubles the one after.
    pub(crate) fn next_delay(&mut self) -> Duration {
        self.next_delay_at(Instant::now())
    }

    fn next_delay_at(&mut self, now: Instant) -> Duration {
        if let Some(since) = self.up_since.take()
            && now.saturating_duration_since(since) >= HEALTHY
        {
            self.delay = INITIAL;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(MAX);
        delay
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

    #[test]
    fn doubles_up_to_the_maximum() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..9)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(
            delays,
            vec![500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }

    #[test]
    fn healthy_attempt_resets_short_one_does_not() {
        let mut backoff = Backoff::default();
        backoff.next_delay();
        backoff.next_delay();
        backoff.up();
        let short = Instant::now() + Duration::from_secs(1);
        assert_eq!(backoff.next_delay_at(short), Duration::from_secs(2));
        backoff.up();
        let long = Instant::now() + HEALTHY;
        assert_eq!(backoff.next_delay_at(long), INITIAL);
        assert_eq!(backoff.next_delay_at(long), Duration::from_secs(1));
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
