//! The `exec` source: a child process (no shell) writing TS to its stdout, restarted with
//! backoff whenever it exits, each new process announced with `Restarted`.
//!
//! Owns the child: spawning (stdin null, stdout and stderr piped, killed on drop), logging its
//! stderr line by line at debug (the last lines go into the warning when it exits badly), and
//! killing and reaping it at shutdown; and what a `command` must be ([`ExecCommand`], made by
//! compile). Must not run a shell or parse the bytes.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::Stop;
use super::backoff::Backoff;
use super::emit::{Emitter, MAX_CHUNK};

/// Stderr lines kept for the exit warning.
const TAIL_LINES: usize = 8;
/// Longer stderr lines are cut (ffmpeg progress can run for hours without a newline).
const MAX_LINE: usize = 512;
/// How long a process that closed its stdout may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long stderr is drained after the process exited.
const STDERR_DRAIN: Duration = Duration::from_millis(500);

/// Runs `command` again and again until shutdown.
pub(crate) async fn run(command: &ExecCommand, out: &mut Emitter) -> Stop {
    let (program, args) = (command.program(), command.args());
    let shutdown = out.shutdown().clone();
    let mut backoff = Backoff::default();
    loop {
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        match spawned {
            Ok(mut child) => {
                tracing::info!(%program, pid = child.id(), "process started");
                backoff.up();
                if let Err(stop) = supervise(&mut child, out).await {
                    stop_child(&mut child).await;
                    return stop;
                }
                out.new_stream("process restarted");
            }
            Err(error) => tracing::warn!(%program, %error, "cannot start process; will retry"),
        }
        if let Err(stop) = backoff.wait(&shutdown).await {
            return stop;
        }
    }
}

/// Pumps the child's stdout to its end, then waits for it to exit and logs how it did.
async fn supervise(child: &mut Child, out: &mut Emitter) -> Result<(), Stop> {
    let shutdown = out.shutdown().clone();
    let mut stderr = Stderr::new(child.stderr.take());
    let mut bytes = 0u64;
    if let Some(mut stdout) = child.stdout.take() {
        // Copied out at exact size, as in `pump`.
        let mut buf = vec![0u8; MAX_CHUNK];
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Err(Stop::Shutdown),
                read = stdout.read(&mut buf) => match read {
                    Ok(0) => break,
                    Ok(n) => {
                        bytes += n as u64;
                        out.data(Bytes::copy_from_slice(&buf[..n])).await?;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "reading the process's stdout failed");
                        break;
                    }
                },
                () = stderr.step(), if stderr.is_open() => {}
            }
        }
    }
    let deadline = Instant::now() + EXIT_GRACE;
    let status = loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Err(Stop::Shutdown),
            status = child.wait() => break Some(status),
            () = stderr.step(), if stderr.is_open() => {}
            () = tokio::time::sleep_until(deadline) => break None,
        }
    };
    let status = match status {
        Some(status) => status,
        None => {
            tracing::warn!("process closed its stdout but keeps running; killing it");
            stop_child(child).await;
            return Ok(());
        }
    };
    let drain_until = Instant::now() + STDERR_DRAIN;
    while stderr.is_open() {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Err(Stop::Shutdown),
            () = stderr.step() => {}
            () = tokio::time::sleep_until(drain_until) => break,
        }
    }
    report_exit(status, bytes, &stderr.finish());
    Ok(())
}

fn report_exit(status: std::io::Result<ExitStatus>, bytes: u64, stderr_tail: &str) {
    match status {
        Ok(status) if status.success() => tracing::info!(bytes, "process exited"),
        Ok(status) => tracing::warn!(bytes, %status, stderr = stderr_tail, "process failed"),
        Err(error) => tracing::warn!(bytes, %error, stderr = stderr_tail, "process lost"),
    }
}

/// Kills the child and reaps it (within a second; `kill_on_drop` covers the rest).
async fn stop_child(child: &mut Child) {
    if let Err(error) = child.start_kill() {
        tracing::debug!(%error, "process already gone");
    }
    match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
        Ok(Ok(status)) => tracing::debug!(%status, "process reaped"),
        Ok(Err(error)) => tracing::debug!(%error, "waiting for the process failed"),
        Err(_) => tracing::warn!("process did not exit after kill"),
    }
}

/// The child's stderr: read in steps, logged line by line, last lines kept.
struct Stderr<R> {
    pipe: Option<R>,
    buf: Vec<u8>,
    tail: Tail,
}

impl<R: AsyncRead + Unpin> Stderr<R> {
    fn new(pipe: Option<R>) -> Self {
        Self {
            pipe,
            buf: vec![0; 4096],
            tail: Tail::default(),
        }
    }

    fn is_open(&self) -> bool {
        self.pipe.is_some()
    }

    /// Reads once (cancel-safe); closes the pipe at EOF or error. Pending forever when closed.
    async fn step(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else {
            return std::future::pending().await;
        };
        match pipe.read(&mut self.buf).await {
            Ok(n) if n > 0 => self.tail.push(&self.buf[..n]),
            _ => self.pipe = None,
        }
    }

    /// The last lines, joined, including an unterminated one.
    fn finish(&mut self) -> String {
        self.tail.end_line();
        Vec::from(self.tail.lines.clone()).join(" | ")
    }
}

/// Splits bytes into lines (on `\n` or `\r`), logs each at debug, keeps the last few.
#[derive(Debug, Default)]
struct Tail {
    partial: Vec<u8>,
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            match byte {
                b'\n' | b'\r' => self.end_line(),
                _ if self.partial.len() < MAX_LINE => self.partial.push(byte),
                _ => {}
            }
        }
    }

    fn end_line(&mut self) {
        if self.partial.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.partial).trim_end().to_owned();
        self.partial.clear();
        tracing::debug!(stderr = %line, "process stderr");
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}

/// An exec source's `command`: a program (not empty) and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand(Vec<String>);

/// Why a `command` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Reported at `command`.
    #[error("must name a program: the array is empty")]
    Empty,
    /// Reported at the program.
    #[error("the program name is empty")]
    EmptyProgram,
}

impl ExecCommand {
    /// The command of `argv`: its first element is the program.
    pub fn new(argv: Vec<String>) -> Result<Self, CommandError> {
        match argv.first() {
            None => Err(CommandError::Empty),
            Some(program) if program.trim().is_empty() => Err(CommandError::EmptyProgram),
            Some(_) => Ok(Self(argv)),
        }
    }

    /// The program.
    pub fn program(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[String] {
        self.0.get(1..).unwrap_or_default()
    }

    /// Program and arguments, as written.
    pub fn argv(&self) -> &[String] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for ExecCommand {
    type Error = CommandError;

    fn try_from(argv: Vec<String>) -> Result<Self, Self::Error> {
        Self::new(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::SourceKind;
    use crate::source::testutil::{Harness, sample, sample_path};

    const LIMIT: Duration = Duration::from_secs(5);

    fn exec(command: &[&str]) -> SourceKind {
        let argv = command.iter().map(|s| (*s).to_owned()).collect();
        SourceKind::Exec {
            command: ExecCommand::new(argv).unwrap(),
        }
    }

    #[tokio::test]
    async fn restarts_the_process_and_announces_it() {
        let path = sample_path();
        let ts = sample();
        let mut h = Harness::start(exec(&["cat", path.to_str().unwrap()]));
        assert_eq!(h.bytes(ts.len(), LIMIT).await, ts);
        assert_eq!(h.restarted(LIMIT).await, "process restarted");
        assert_eq!(h.bytes(ts.len(), LIMIT).await, ts);
        h.stop_promptly().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_program_is_retried_until_shutdown() {
        let mut h = Harness::start(exec(&["/nonexistent/streamrouter-test-program"]));
        h.nothing_for(Duration::from_millis(800)).await;
        h.stop_promptly().await;
    }

    #[tokio::test]
    async fn a_running_process_is_killed_at_shutdown() {
        let mut h = Harness::start(exec(&["sh", "-c", "echo live; exec sleep 30"]));
        assert_eq!(&h.data(LIMIT).await[..], b"live\n");
        h.stop_promptly().await;
    }

    #[test]
    fn tail_splits_lines_keeps_the_last_and_caps_length() {
        let mut tail = Tail::default();
        for i in 0..10 {
            tail.push(format!("line {i}\r\n").as_bytes());
        }
        tail.push(&[b'x'; 2000]);
        tail.end_line();
        assert_eq!(tail.lines.len(), TAIL_LINES);
        assert_eq!(tail.lines[0], "line 3");
        assert_eq!(tail.lines[TAIL_LINES - 1].len(), MAX_LINE);
    }

    #[test]
    fn a_command_names_a_program() {
        let command = ExecCommand::new(vec!["ffmpeg".into(), "-i".into()]).unwrap();
        assert_eq!(
            (command.program(), command.args()),
            ("ffmpeg", &["-i".to_owned()][..])
        );
        assert_eq!(ExecCommand::new(Vec::new()), Err(CommandError::Empty));
        assert_eq!(
            ExecCommand::new(vec![" ".into()]),
            Err(CommandError::EmptyProgram)
        );
    }
}
