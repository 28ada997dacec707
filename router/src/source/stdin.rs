//! The `stdin` source: the process's standard input, read to EOF, then the source ends.
//!
//! Owns reading fd 0. Must not retry: stdin cannot be reopened. Note that tokio reads stdin on
//! a blocking thread; after shutdown that read stays parked until stdin delivers data or EOF,
//! so the process should leave its runtime with `shutdown_timeout`/`shutdown_background` (or
//! exit) rather than wait for every blocking thread.

use super::Stop;
use super::emit::Emitter;
use super::pump::{PumpEnd, pump};

/// Reads stdin to EOF.
pub(crate) async fn run(out: &mut Emitter) -> Stop {
    let mut stdin = tokio::io::stdin();
    tracing::info!("reading standard input");
    match pump(&mut stdin, out, None).await {
        Err(stop) => stop,
        Ok(pumped) => {
            match pumped.end {
                PumpEnd::Eof => tracing::info!(bytes = pumped.bytes, "end of standard input"),
                PumpEnd::Error(error) => {
                    tracing::warn!(bytes = pumped.bytes, %error, "reading standard input failed");
                }
                PumpEnd::Idle(_) => {}
            }
            Stop::Ended
        }
    }
}
