//! Real servers for the remote-sink tests, started by the tests themselves on 127.0.0.1:
//! moto's server (S3) and pyftpdlib (FTP), each on a free port, stopped when dropped; and
//! srt-live-transmit relaying UDP to SRT for the SRT source tests.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A server process, killed on drop.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// srt-live-transmit (Debian `srt-tools`) relaying the datagrams sent to `udp_in` on
/// 127.0.0.1 to the SRT peer `srt` (a URL with its mode); killed on drop.
pub fn srt_relay(udp_in: u16, srt: &str) -> Server {
    let child = Command::new("srt-live-transmit")
        .arg("-q")
        .arg(format!("udp://127.0.0.1:{udp_in}"))
        .arg(srt)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("srt-live-transmit (Debian srt-tools)");
    Server {
        child,
        port: udp_in,
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub(crate) fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start(mut command: Command, port: u16, what: &str) -> Server {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} (run .ci/run to install it): {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            child.try_wait().expect("poll").is_none(),
            "{what} exited at start (is it installed? run .ci/run)"
        );
        assert!(Instant::now() < deadline, "{what} did not listen in 30 s");
        thread::sleep(Duration::from_millis(100));
    }
    Server { child, port }
}

/// moto_server, an S3-compatible server (PyPI `moto[server]`).
pub fn s3() -> Server {
    let port = free_tcp_port();
    let mut command = Command::new("python3");
    command.args([
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    start(command, port, "moto_server")
}

/// pyftpdlib serving `root` to `user`/`password` with write access (PyPI `pyftpdlib`).
pub fn ftp(root: &Path, user: &str, password: &str) -> Server {
    let port = free_tcp_port();
    let mut command = Command::new("python3");
    command
        .args([
            "-m",
            "pyftpdlib",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-w",
        ])
        .arg("-d")
        .arg(root)
        .args(["-u", user, "-P", password]);
    start(command, port, "pyftpdlib")
}

/// OpenSSH's sshd on a free port, accepting the current user with a key made for the test, and
/// that host's key added to the user's known_hosts (removed again on drop).
pub struct Ssh {
    server: Server,
    /// The client key to log in with.
    pub key_file: std::path::PathBuf,
    /// The login.
    pub user: String,
}

impl Drop for Ssh {
    fn drop(&mut self) {
        let _ = Command::new("ssh-keygen")
            .args(["-R", &format!("[127.0.0.1]:{}", self.server.port)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Ssh {
    /// The port sshd listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(status.success());
}

/// Starts sshd with its files under `dir`.
pub fn ssh(dir: &Path) -> Ssh {
    let port = free_tcp_port();
    let host_key = dir.join("host_key");
    let key_file = dir.join("client_key");
    keygen(&host_key);
    keygen(&key_file);
    let authorized = dir.join("authorized_keys");
    std::fs::copy(dir.join("client_key.pub"), &authorized).expect("authorized_keys");
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PidFile {}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n",
            host_key.display(),
            authorized.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .expect("sshd_config");
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut command = Command::new("/usr/sbin/sshd");
    command.arg("-D").arg("-e").arg("-f").arg(&config);
    let server = start(command, port, "sshd");
    // Trust this host key for 127.0.0.1:port in the user's known_hosts, as an operator would.
    let public = std::fs::read_to_string(dir.join("host_key.pub")).expect("host key");
    let mut fields = public.split_whitespace();
    let (kind, key) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
    let home = std::env::var("HOME").expect("HOME");
    let ssh_dir = Path::new(&home).join(".ssh");
    std::fs::create_dir_all(&ssh_dir).expect(".ssh");
    let line = format!("[127.0.0.1]:{port} {kind} {key}\n");
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ssh_dir.join("known_hosts"))
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .expect("known_hosts");
    let user = std::env::var("USER").unwrap_or_else(|_| "root".to_owned());
    Ssh {
        server,
        key_file,
        user,
    }
}
