//! Healing: the one supervisor every node task runs under, so that a panic never leaves a node
//! dead while its channels stay open (or closes them, ending its feed as if its input had
//! ended).
//!
//! A node's task implements [`NodeTask`]: what must outlive a panic (the receiving ends of its
//! channels, its numbering, what a reload told it) lives in the task value, and each
//! [`NodeTask::run`] borrows it; what a run builds up (a framer, an open segment, measurements)
//! is dropped with the run. [`spawn_node`] runs the task in its span and catches a panic: the
//! node is reported `restarting` with the panic message as its last error, and after a delay
//! (250 ms doubling to 30 s, back to 250 ms after a run that lasted a minute; less up
//! to a fifth at random, see [`crate::backoff`]) it runs again.
//! That run starts a new timeline (its next segment carries a discontinuity), numbering goes
//! on, and the node reports `live` again once it works. While the daemon stops (`stop` is
//! cancelled) a panicked task runs again at once, to finish in order; a second panic then ends
//! it, reported `stopped`.
//!
//! Owns the restart policy and nothing of any node: each task module says what survives.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backoff::{Backoff, Schedule};
use crate::status::{NodeState, NodeStatus};

/// The delays between restarts.
const SCHEDULE: Schedule = Schedule {
    first: Duration::from_millis(250),
    max: Duration::from_secs(30),
    healthy: Duration::from_secs(60),
};

/// Why a node's task runs again: the panic that ended its previous run.
#[derive(Debug, Clone)]
pub(super) struct Restart {
    /// The panic's message.
    pub message: String,
}

/// A node's task that can run again after a panic, keeping what `self` holds.
pub(super) trait NodeTask: Send + 'static {
    /// What the task returns when it ends.
    type Output: Send + 'static;
    /// Which of its node's tasks this is, when the node has several (a source's `fan-out`);
    /// empty for the main one. Shown in logs and used by the test fault switch.
    const PART: &'static str = "";

    /// Runs the node until it ends. `restart` is `None` the first time; after a panic it says
    /// why the task runs again, and the run starts a new timeline.
    fn run(&mut self, restart: Option<Restart>) -> impl Future<Output = Self::Output> + Send;
}

/// Spawns node task `task` in `span`, restarted in place after a panic (see the module doc);
/// `status` is the node's entry on the board, `stop` fires when the daemon stops or the node
/// goes. `None` when a panic while stopping ended it.
pub(super) fn spawn_node<T: NodeTask>(
    span: tracing::Span,
    status: NodeStatus,
    stop: CancellationToken,
    task: T,
) -> JoinHandle<Option<T::Output>> {
    tokio::spawn(supervise(task, status, stop).instrument(span))
}

/// Spawns a task that cannot run again (it owns its channels): a panic ends it, logged and
/// reported `stopped`, and returns `None`. For sink tasks until they implement [`NodeTask`].
pub(super) fn spawn_unsupervised<F>(
    span: tracing::Span,
    status: NodeStatus,
    task: F,
) -> JoinHandle<Option<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(
        async move {
            match AssertUnwindSafe(task).catch_unwind().await {
                Ok(output) => Some(output),
                Err(panic) => {
                    let message = panic_message(panic.as_ref());
                    tracing::error!(%message, "a node task panicked; it stopped, the others go on");
                    status.fail(NodeState::Stopped, format!("panicked: {message}"));
                    None
                }
            }
        }
        .instrument(span),
    )
}

async fn supervise<T: NodeTask>(
    mut task: T,
    status: NodeStatus,
    stop: CancellationToken,
) -> Option<T::Output> {
    let mut delays = Backoff::new(SCHEDULE);
    let mut restart = None;
    let mut panics: u32 = 0;
    let mut restarted_while_stopping = false;
    loop {
        let started = Instant::now();
        let run = task.run(restart.take());
        #[cfg(any(test, debug_assertions))]
        let run = super::fault::armed(status.node(), T::PART, panics == 0, run);
        let message = match AssertUnwindSafe(run).catch_unwind().await {
            Ok(output) => return Some(output),
            Err(panic) => panic_message(panic.as_ref()),
        };
        panics = panics.saturating_add(1);
        let part = T::PART;
        if stop.is_cancelled() {
            if restarted_while_stopping {
                tracing::error!(%message, part, "a node task panicked again while stopping; it stopped");
                status.fail(NodeState::Stopped, format!("panicked: {message}"));
                return None;
            }
            restarted_while_stopping = true;
        }
        let delay = if stop.is_cancelled() {
            Duration::ZERO
        } else {
            delays.next_after(started.elapsed())
        };
        tracing::error!(
            %message,
            part,
            panics,
            delay_ms = delay.as_millis() as u64,
            "a node task panicked; it restarts after the delay, the other nodes go on"
        );
        status.fail(NodeState::Restarting, format!("panicked: {message}"));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => {}
        }
        restart = Some(Restart { message });
    }
}

/// What a panic said.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::NodeId;
    use crate::status::NodeBoard;

    #[test]
    fn delays_double_to_the_maximum_and_start_over_after_a_healthy_run() {
        let mut delays = Backoff::new(SCHEDULE);
        let short = Duration::from_secs(1);
        let about = |delay: Duration, millis: u64| {
            let base = Duration::from_millis(millis);
            assert!(
                delay <= base && delay >= base.mul_f64(0.8),
                "{delay:?} vs {base:?}"
            );
        };
        for millis in [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000] {
            about(delays.next_after(short), millis);
        }
        about(delays.next_after(SCHEDULE.healthy), 250);
        about(delays.next_after(short), 500);
    }

    /// Panics in its first `panics` runs, counting its runs in what survives them.
    struct Flaky {
        panics: u32,
        runs: Vec<Option<String>>,
    }

    impl NodeTask for Flaky {
        type Output = Vec<Option<String>>;

        async fn run(&mut self, restart: Option<Restart>) -> Self::Output {
            self.runs.push(restart.map(|restart| restart.message));
            tokio::task::yield_now().await;
            if self.runs.len() as u32 <= self.panics {
                panic!("run {} fails", self.runs.len());
            }
            self.runs.clone()
        }
    }

    fn state(board: &NodeBoard) -> (NodeState, Option<String>) {
        let node = &board.snapshot()[0];
        (node.state, node.last_error.clone())
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicked_task_runs_again_after_growing_delays_keeping_its_state() {
        let board = NodeBoard::default();
        let status = NodeStatus::starting(&board, NodeId::segmenter("flaky"));
        let started = Instant::now();
        let task = Flaky {
            panics: 3,
            runs: Vec::new(),
        };
        let handle = spawn_node(
            tracing::Span::none(),
            status,
            CancellationToken::new(),
            task,
        );
        let runs = handle.await.unwrap().unwrap();
        assert_eq!(
            runs,
            [
                None,
                Some("run 1 fails".to_owned()),
                Some("run 2 fails".to_owned()),
                Some("run 3 fails".to_owned()),
            ]
        );
        // 250 + 500 + 1000 ms of waiting, each less up to a fifth (the jitter).
        let waited = started.elapsed();
        let full = Duration::from_millis(1750);
        assert!(waited <= full && waited >= full.mul_f64(0.8), "{waited:?}");
        // The task reports live again itself; until then it is restarting.
        assert_eq!(
            state(&board),
            (NodeState::Restarting, Some("panicked: run 3 fails".into()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn while_stopping_it_runs_again_at_once_and_a_second_panic_ends_it() {
        let board = NodeBoard::default();
        let status = NodeStatus::starting(&board, NodeId::playlist("flaky"));
        let stop = CancellationToken::new();
        stop.cancel();
        let started = Instant::now();
        let once = Flaky {
            panics: 1,
            runs: Vec::new(),
        };
        let handle = spawn_node(tracing::Span::none(), status.clone(), stop.clone(), once);
        assert_eq!(handle.await.unwrap().map(|runs| runs.len()), Some(2));
        assert_eq!(started.elapsed(), Duration::ZERO);

        let twice = Flaky {
            panics: 2,
            runs: Vec::new(),
        };
        let handle = spawn_node(tracing::Span::none(), status, stop, twice);
        assert_eq!(handle.await.unwrap(), None);
        assert_eq!(
            state(&board),
            (NodeState::Stopped, Some("panicked: run 2 fails".into()))
        );
    }

    #[tokio::test]
    async fn an_unsupervised_task_that_panics_is_reported_stopped() {
        let board = NodeBoard::default();
        let status = NodeStatus::starting(&board, NodeId::sink("flaky"));
        status.set(NodeState::Live);
        async fn broken_sink() {
            panic!("sink broke")
        }
        let handle = spawn_unsupervised(tracing::Span::none(), status, broken_sink());
        assert_eq!(handle.await.unwrap(), None::<()>);
        assert_eq!(
            state(&board),
            (NodeState::Stopped, Some("panicked: sink broke".into()))
        );
    }
}
