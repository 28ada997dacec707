//! A `streamrouter run` process under test: started on a config written by the test, its
//! stdout lines (the served URLs) and stderr (logs) collected, stopped with a real SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::router::BIN;

/// A running daemon.
pub struct Daemon {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts `streamrouter run CONFIG`.
    pub fn start(config: &Path) -> Self {
        Self::start_with(config, &[])
    }

    /// Starts `streamrouter run CONFIG EXTRA...`.
    pub fn start_with(config: &Path, extra: &[&str]) -> Self {
        Self::spawn(config, extra, &[], None)
    }

    /// Starts `streamrouter run CONFIG` with these environment variables set (`RUST_LOG`
    /// among them replaces the default `info,streamrouter=debug`).
    pub fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(config, &[], env, None)
    }

    /// Starts `streamrouter run CONFIG EXTRA...` with these environment variables set.
    pub fn start_with_args_and_env(config: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(config, extra, env, None)
    }

    /// Starts `streamrouter run CONFIG` with `input` written to its standard input, then closed.
    pub fn start_with_stdin(config: &Path, input: Vec<u8>) -> Self {
        Self::spawn(config, &[], &[], Some(input))
    }

    /// Starts `streamrouter run CONFIG EXTRA...` in the working directory `dir` (for configs
    /// whose `exec` commands name files relative to it).
    pub fn start_in(dir: &Path, config: &Path, extra: &[&str]) -> Self {
        Self::spawn_in(Some(dir), config, extra, &[], None)
    }

    fn spawn(config: &Path, extra: &[&str], env: &[(&str, &str)], input: Option<Vec<u8>>) -> Self {
        Self::spawn_in(None, config, extra, env, input)
    }

    fn spawn_in(
        dir: Option<&Path>,
        config: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        input: Option<Vec<u8>>,
    ) -> Self {
        let mut command = Command::new(BIN);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = command
            .arg("run")
            .arg(config)
            .args(extra)
            // The default filter, unless the test sets its own RUST_LOG.
            .env("RUST_LOG", "info,streamrouter=debug")
            .envs(env.iter().copied())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start streamrouter run");
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(&input);
            });
        }
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("stdout");
        let lines = Arc::clone(&stdout);
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let text = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// The first stdout line, waiting for it (the served playlist URL).
    pub fn first_line(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.stdout.lock().unwrap().first() {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no URL printed in {timeout:?}; logs:\n{}",
                self.logs()
            );
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "daemon exited:\n{}",
                self.logs()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The operator's URL the daemon printed (`status: http://ADDR/`), if printed yet.
    pub fn printed_status_url(&self) -> Option<String> {
        (self.stdout.lock().unwrap().iter())
            .find_map(|line| line.strip_prefix("status: ").map(str::to_owned))
    }

    /// The operator's URL the daemon printed (`status: http://ADDR/`), waiting for it.
    pub fn status_url(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(url) = self.printed_status_url() {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "no status URL printed in {timeout:?}; logs:\n{}",
                self.logs()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The logs so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the signal `name` (`HUP`, `TERM`...) with `kill -NAME PID`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits at most `timeout` for the process to exit on its own (after a signal); `None` if
    /// it still runs then. Never kills it.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                thread::sleep(Duration::from_millis(100)); // let the log reader drain
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit (at most `timeout`).
    pub fn stop(mut self, timeout: Duration) -> (ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                thread::sleep(Duration::from_millis(100)); // let the log reader drain
                return (status, self.logs());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "daemon did not stop within {timeout:?}; logs:\n{}",
                    self.logs()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The daemon's logs without colour codes.
pub fn plain_logs(daemon: &Daemon) -> String {
    strip_ansi(&daemon.logs())
}

/// `raw` without ANSI escape sequences.
pub fn strip_ansi(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    text
}

/// The last `n` lines of `text`, for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Waits until `check` holds, polling; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Reads a file if it exists.
pub fn read_if_exists(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A free UDP port on 127.0.0.1 (bound then released).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Writes `text` as `dir/name` and returns its path.
pub fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

/// An HTTP response: (status line such as `HTTP/1.1 200 OK`, headers lowercased, body).
pub type Response = (String, Vec<(String, String)>, Vec<u8>);

/// An HTTP GET: (status line, headers lowercased, body).
pub fn http_get(url: &str) -> Response {
    http_request("GET", url)
}

/// Waits up to `timeout` until `url` serves a playlist ending in `#EXT-X-ENDLIST` (a feed's
/// final version, e.g. in a bucket); returns the response.
pub fn wait_for_final_playlist(url: &str, timeout: Duration) -> Response {
    wait_until("the final playlist in the bucket", timeout, || {
        let (status, _, body) = http_get(url);
        status.contains("200") && String::from_utf8_lossy(&body).ends_with("#EXT-X-ENDLIST\n")
    });
    http_get(url)
}

/// An HTTP request without body: (status line, headers lowercased, body).
pub fn http_request(method: &str, url: &str) -> Response {
    try_http_request(method, url).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// An HTTP request without body (reqwest, no proxy), or why there is no response.
pub fn try_http_request(method: &str, url: &str) -> Result<Response, reqwest::Error> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let client = reqwest::blocking::Client::builder().no_proxy().build()?;
    let response = client.request(method, url).send()?;
    let status = format!("{:?} {}", response.version(), response.status());
    let headers = (response.headers().iter())
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let body = response.bytes()?.to_vec();
    Ok((status, headers, body))
}
