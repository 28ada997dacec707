//! Retry delays: the one backoff policy of every retry loop in the router (sources reopening,
//! node tasks restarting after a panic, sink operations retried), each with its own
//! [`Schedule`]. A delay doubles from the schedule's first one up to its longest, starts over
//! after a healthy run, and is shortened by up to a fifth at random (jitter), so that many
//! feeds or sinks failing together do not retry in lockstep, and no retry ever waits longer
//! than the schedule says.
//!
//! Owns only timing decisions: when to try again. Must not sleep, nor know what is retried.

use std::time::Duration;

/// The delays of one kind of retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// The delay before the first retry.
    pub(crate) first: Duration,
    /// The longest delay.
    pub(crate) max: Duration,
    /// A run that lasted this long was healthy: the next delay starts over from `first`.
    pub(crate) healthy: Duration,
}

/// The largest share of a delay the jitter takes off.
const JITTER: f64 = 0.2;

/// Exponential backoff along a [`Schedule`], with jitter.
#[derive(Debug)]
pub(crate) struct Backoff {
    schedule: Schedule,
    /// The next delay before jitter.
    next: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    /// Backoff starting at `schedule.first`.
    pub(crate) fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            next: schedule.first,
            rng: fastrand::Rng::new(),
        }
    }

    /// The delay before the next try, after a try that lasted `ran` (`Duration::ZERO` for one
    /// that failed at once): starts over if `ran` was healthy; doubles the one after.
    pub(crate) fn next_after(&mut self, ran: Duration) -> Duration {
        if ran >= self.schedule.healthy {
            self.next = self.schedule.first;
        }
        let base = self.next;
        self.next = (base * 2).min(self.schedule.max);
        base.mul_f64(1.0 - JITTER * self.rng.f64())
    }

    /// The delay before the next try, after one that failed at once.
    pub(crate) fn next_delay(&mut self) -> Duration {
        self.next_after(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: Schedule = Schedule {
        first: Duration::from_millis(500),
        max: Duration::from_secs(30),
        healthy: Duration::from_secs(10),
    };

    /// `delay` is `base` less at most a fifth of it.
    fn assert_jittered(delay: Duration, base: Duration) {
        assert!(
            delay <= base && delay >= base.mul_f64(1.0 - JITTER),
            "{delay:?} is not {base:?} less up to a fifth"
        );
    }

    #[test]
    fn delays_double_to_the_maximum_less_a_bounded_jitter() {
        let mut backoff = Backoff::new(SCHEDULE);
        for millis in [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000] {
            assert_jittered(backoff.next_delay(), Duration::from_millis(millis));
        }
    }

    #[test]
    fn a_healthy_run_starts_over_and_a_short_one_does_not() {
        let mut backoff = Backoff::new(SCHEDULE);
        backoff.next_delay();
        backoff.next_delay();
        let short = Duration::from_secs(1);
        assert_jittered(backoff.next_after(short), Duration::from_secs(2));
        assert_jittered(backoff.next_after(SCHEDULE.healthy), SCHEDULE.first);
        assert_jittered(backoff.next_after(short), SCHEDULE.first * 2);
    }

    #[test]
    fn the_jitter_spreads_the_delays() {
        let delays: std::collections::BTreeSet<Duration> = (0..20)
            .map(|_| Backoff::new(SCHEDULE).next_delay())
            .collect();
        assert!(delays.len() > 1, "20 backoffs drew one delay: no jitter");
    }
}
