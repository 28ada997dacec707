//! Running `streamrouter segment` and looking at what it wrote.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test, built by cargo for this integration test.
pub const BIN: &str = env!("CARGO_BIN_EXE_streamrouter");

/// Longest a single `streamrouter` run may take before the test kills it and fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// A test input under `tests/data`.
pub fn data(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name);
    assert!(
        path.is_file(),
        "test input {} is missing (regenerate with scripts/make-test-inputs.sh)",
        path.display()
    );
    path
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Exit status.
    pub status: ExitStatus,
    /// Everything written to stderr.
    pub stderr: String,
    /// Everything written to stdout.
    pub stdout: String,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Run {
    /// Panics with the command and its stderr unless it exited 0.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "`{}` failed with {}; stderr:\n{}",
            self.command,
            self.status,
            self.stderr
        );
        self
    }

    /// Panics unless it exited non-zero.
    pub fn assert_failure(&self) -> &Self {
        assert!(
            !self.status.success() && self.status.code().is_some(),
            "`{}` should have failed with a non-zero exit code, got {}; stderr:\n{}",
            self.command,
            self.status,
            self.stderr
        );
        self
    }
}

/// `streamrouter segment INPUT --out OUT EXTRA...` with the input read from the file.
pub fn segment(input: &Path, out: &Path, extra: &[&str]) -> Run {
    run(segment_command(input, out, extra), None)
}

fn segment_command(input: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("segment")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(extra);
    command
}

/// `streamrouter segment - --out OUT EXTRA...` with `stdin_data` written to its standard input
/// through a pipe.
pub fn segment_stdin(stdin_data: Vec<u8>, out: &Path, extra: &[&str]) -> Run {
    let mut command = Command::new(BIN);
    command.args(["segment", "-", "--out"]).arg(out).args(extra);
    run(command, Some(stdin_data))
}

/// `streamrouter ARGS...` as given.
pub fn streamrouter(args: &[&str]) -> Run {
    let mut command = Command::new(BIN);
    command.args(args);
    run(command, None)
}

fn run(command: Command, stdin_data: Option<Vec<u8>>) -> Run {
    Running::start(command, stdin_data).finish()
}

/// `streamrouter segment INPUT --out OUT EXTRA...` started in the background.
pub fn spawn_segment(input: &Path, out: &Path, extra: &[&str]) -> Running {
    Running::start(segment_command(input, out, extra), None)
}

/// A `streamrouter` process that is still running.
#[derive(Debug)]
pub struct Running {
    child: Child,
    description: String,
    started: Instant,
    writer: Option<thread::JoinHandle<()>>,
    reader: thread::JoinHandle<String>,
    stdout_reader: thread::JoinHandle<String>,
}

impl Running {
    fn start(mut command: Command, stdin_data: Option<Vec<u8>>) -> Self {
        let description = describe(&command);
        command
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(if stdin_data.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{description}`: {e}"));
        let writer = stdin_data.map(|bytes| {
            let mut stdin = child.stdin.take().expect("piped stdin");
            // A broken pipe (the process exited early) shows in its exit status and stderr.
            thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            })
        });
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let reader = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        let mut stdout_pipe = child.stdout.take().expect("piped stdout");
        let stdout_reader = thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout_pipe.read_to_string(&mut text);
            text
        });
        Self {
            child,
            description,
            started,
            writer,
            reader,
            stdout_reader,
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("polling streamrouter")
            .is_none()
    }

    /// Waits for the process to exit (killing it after a timeout) and collects its stderr.
    pub fn finish(mut self) -> Run {
        let status = wait_with_timeout(&mut self.child, &self.description, self.started);
        if let Some(writer) = self.writer {
            writer.join().expect("stdin writer thread");
        }
        let stderr = self.reader.join().expect("stderr reader thread");
        let stdout = self.stdout_reader.join().expect("stdout reader thread");
        Run {
            command: self.description,
            status,
            stderr,
            stdout,
            elapsed: self.started.elapsed(),
        }
    }
}

fn wait_with_timeout(child: &mut Child, description: &str, started: Instant) -> ExitStatus {
    let deadline = started + RUN_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for streamrouter") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{description}` did not finish within {RUN_TIMEOUT:?}; killed it");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Names of the entries of a directory, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The sink writes hidden temporary files and renames them; none may be left behind.
pub fn assert_no_temp_files(dir: &Path) {
    let hidden: Vec<String> = dir_names(dir)
        .into_iter()
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(
        hidden.is_empty(),
        "temporary files left in {}: {hidden:?}",
        dir.display()
    );
}

/// Reads a file, with its path in the panic message.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Reads a text file, with its path in the panic message.
pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
