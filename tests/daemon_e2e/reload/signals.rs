//! SIGHUP, and a hundred reloads in a row without a leak.

use std::net::UdpSocket;
use std::thread::{self};
use std::time::{Duration, Instant};

use crate::daemon::{Daemon, free_udp_port, write_config};
use crate::feeds::local_feed;

use super::*;

#[test]
fn sighup_reloads() {
    live_clip();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let config = |window| {
        format!(
            "[router]\nserve = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:0\"\n{}",
            live_feed("s", &out, window)
        )
    };
    let path = write_config(dir.path(), "live.toml", &config(6));
    let mut daemon = Daemon::start(&path);
    daemon.first_line(Duration::from_secs(10));
    let status_base = server_base(&daemon.status_url(Duration::from_secs(10)));
    let recorder = Recorder::start();
    let playlist = out.join("s.m3u8");
    recorder.track("s", playlist.clone());
    wait_playlist(
        &mut daemon,
        "2 segments",
        &playlist,
        Duration::from_secs(20),
        |p| p.entries.len() >= 2,
    );

    // SIGHUP with the config as it runs: nothing to apply.
    daemon.signal("HUP");
    let text = wait_logs(&mut daemon, "`config unchanged`", RELOAD_TIMEOUT, |t| {
        unchanged(t) == 1
    });
    assert!(reloads(&text).is_empty(), "{}", tail(&text, 40));
    assert_status(&status_base, 1, "unchanged", &[]);
    wait_new_segment(&mut daemon, "s to go on after SIGHUP", &playlist);

    // An edit the watcher applies; SIGHUP after it finds nothing more to do.
    save_atomically(&path, &config(4));
    wait_generation(&mut daemon, 2);
    thread::sleep(Duration::from_millis(500)); // past the watcher's debounce
    let same_before = unchanged(&logs(&daemon));
    daemon.signal("HUP");
    let text = wait_logs(
        &mut daemon,
        "a second `config unchanged`",
        RELOAD_TIMEOUT,
        |t| unchanged(t) > same_before,
    );
    let generations: Vec<u64> = reloads(&text).iter().map(|(g, _)| *g).collect();
    assert_eq!(generations, vec![2], "{}", tail(&text, 40));
    assert_status(&status_base, 2, "unchanged", &[]);
    // Window 4 draws a warning: logged by the reload that brought it, not again by SIGHUP.
    let warned = lines_with(&text, "window 4 is below").len();
    assert_eq!(warned, 1, "{}", tail(&text, 40));
    wait_new_segment(&mut daemon, "s to go on after the second SIGHUP", &playlist);
    assert!(daemon.is_running());

    let (status, final_logs) = daemon.stop(Duration::from_secs(10));
    let final_logs = strip_ansi(&final_logs);
    assert!(
        status.success(),
        "exit {status:?}\n{}",
        tail(&final_logs, 60)
    );
    let history = check_feed("s", "s", &recorder.finish()["s"]);
    assert!(history.versions.last().unwrap().endlist);
    assert_eq!(
        source_starts(&final_logs, "s"),
        1,
        "{}",
        tail(&final_logs, 60)
    );
}

#[test]
fn hundred_reloads_leak_nothing() {
    const RELOADS: usize = 100;
    let started = Instant::now();
    live_clip();
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join("out").join(name);
    let port = free_udp_port();
    let idle = local_feed(
        "x",
        &format!("type = \"udp\"\nbind = \"127.0.0.1:{port}\""),
        &out("x"),
        6,
    );
    // Odd reloads add the idle UDP feed x and shrink s2's window, even ones undo both.
    let config = |reload: usize| {
        let odd = reload % 2 == 1;
        format!(
            "{}{}{}",
            live_feed("s1", &out("s1"), 6),
            live_feed("s2", &out("s2"), if odd { 5 } else { 6 }),
            if odd { idle.as_str() } else { "" }
        )
    };
    let path = dir.path().join("live.toml");
    save_atomically(&path, &config(0));
    let mut daemon = Daemon::start(&path);
    let pid = daemon.pid();
    let recorder = Recorder::start();
    for name in ["s1", "s2"] {
        recorder.track(name, out(name).join(format!("{name}.m3u8")));
    }
    for name in ["s1", "s2"] {
        wait_playlist(
            &mut daemon,
            &format!("3 segments of {name}"),
            &out(name).join(format!("{name}.m3u8")),
            Duration::from_secs(20),
            |p| p.entries.len() >= 3,
        );
    }

    let mut samples = Vec::new();
    let mut elapsed_ms = Vec::new();
    let reloads_started = Instant::now();
    for reload in 1..=RELOADS {
        save_atomically(&path, &config(reload));
        let line = wait_generation(&mut daemon, reload as u64 + 1);
        elapsed_ms.push(field(&line, "elapsed_ms").unwrap().parse::<f64>().unwrap());
        if reload == 1 {
            assert_changes(
                &line,
                &["sources.x", "playlists.s2"],
                &["sources.s1", "sources.s2"],
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            while !udp_port_bound(port) {
                assert!(Instant::now() < deadline, "x never bound UDP port {port}");
                thread::sleep(Duration::from_millis(20));
            }
        }
        if reload == 10 || reload == RELOADS {
            // x is removed at even reloads: its socket must be closed.
            let deadline = Instant::now() + Duration::from_secs(5);
            while udp_port_bound(port) {
                assert!(
                    Instant::now() < deadline,
                    "UDP port {port} still bound 5 s after x was removed (reload {reload})"
                );
                thread::sleep(Duration::from_millis(20));
            }
            thread::sleep(Duration::from_millis(500));
            samples.push((reload, open_fds(pid), rss_kib(pid)));
        }
    }
    let reload_time = reloads_started.elapsed();
    // Nobody else may bind the port once it is free; we can.
    drop(UdpSocket::bind(("127.0.0.1", port)).expect("x's port is free again"));
    wait_new_segment(
        &mut daemon,
        "s1 after the reloads",
        &out("s1").join("s1.m3u8"),
    );
    wait_new_segment(
        &mut daemon,
        "s2 after the reloads",
        &out("s2").join("s2.m3u8"),
    );

    let (status, final_logs) = daemon.stop(Duration::from_secs(10));
    let final_logs = strip_ansi(&final_logs);
    assert!(
        status.success(),
        "exit {status:?}\n{}",
        tail(&final_logs, 60)
    );
    let tracks = recorder.finish();
    let s1 = check_feed("s1", "s1", &tracks["s1"]);
    let s2 = check_feed("s2", "s2", &tracks["s2"]);
    assert!(s2.versions.iter().all(|v| v.entries.len() <= 6));

    let generations: Vec<u64> = reloads(&final_logs).iter().map(|(g, _)| *g).collect();
    assert_eq!(generations, (2..=RELOADS as u64 + 1).collect::<Vec<_>>());
    assert_eq!(refusals(&final_logs), 0, "{}", tail(&final_logs, 60));
    assert_eq!(source_starts(&final_logs, "s1"), 1);
    assert_eq!(source_starts(&final_logs, "s2"), 1);
    // x bound its port at each of its 50 starts, never finding it still held by the x before.
    let x_starts = lines_with(&final_logs, "receiving UDP")
        .into_iter()
        .filter(|line| line.contains("{node=x}"))
        .count();
    assert_eq!(x_starts, RELOADS / 2, "{}", tail(&final_logs, 60));
    let bind_failures = lines_with(&final_logs, "cannot open UDP socket");
    assert!(bind_failures.is_empty(), "{}", bind_failures.join("\n"));
    let errors = lines_with(&final_logs, " ERROR ");
    assert!(errors.is_empty(), "errors logged:\n{}", errors.join("\n"));

    let [(_, fds_10, rss_10), (_, fds_100, rss_100)] = samples[..] else {
        panic!("samples: {samples:?}");
    };
    let mut sorted = elapsed_ms.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "hundred_reloads_leak_nothing: {:?} in all, {RELOADS} reloads in {reload_time:?}; \
         elapsed_ms median {:.1} max {:.1}; after reload 10: {fds_10} fds, {rss_10} KiB; \
         after reload {RELOADS}: {fds_100} fds, {rss_100} KiB; s1 {}..{}, s2 {}..{}",
        started.elapsed(),
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
        s1.first(),
        s1.last(),
        s2.first(),
        s2.last()
    );
    assert!(
        fds_100.abs_diff(fds_10) <= 2,
        "open fds went from {fds_10} (reload 10) to {fds_100} (reload {RELOADS})"
    );
    assert!(
        rss_100 < rss_10 + 20 * 1024,
        "RSS grew from {rss_10} KiB (reload 10) to {rss_100} KiB (reload {RELOADS})"
    );
}

/// A sink that cannot store anything, removed by a reload: after `stop_timeout` it leaves what
/// it holds (lost here, without a `state_dir`) and its task ends, instead of retrying for ever
/// in the background.
#[test]
fn a_removed_failing_sink_stops_retrying() {
    live_clip();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Bound then closed: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let dead_sink = format!(
        "\n[sinks.dead]\ntype = \"ftp\"\nhost = \"127.0.0.1\"\nport = {closed}\ninputs = [\"s\"]\n"
    );
    let with_dead = format!("{}{dead_sink}", live_feed("s", &out, 6));
    let path = write_config(dir.path(), "live.toml", &with_dead);
    let mut daemon = Daemon::start(&path);
    wait_logs(&mut daemon, "the dead sink to retry", RELOAD_TIMEOUT, |t| {
        t.contains("sink operation failed; retrying") && t.contains("sink=dead")
    });
    save_atomically(&path, &live_feed("s", &out, 6));
    wait_generation(&mut daemon, 2);
    let text = wait_logs(&mut daemon, "the dead sink to stop", RELOAD_TIMEOUT, |t| {
        lines_with(t, "sink stopped")
            .iter()
            .any(|line| line.contains("sink=dead"))
    });
    assert!(
        lines_with(&text, "stop timeout: unsent items are lost")
            .iter()
            .any(|line| line.contains("sink=dead")),
        "{}",
        tail(&text, 40)
    );
    // The feed and its local sink go on.
    wait_new_segment(&mut daemon, "s to go on", &out.join("s.m3u8"));
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{}", tail(&logs, 40));
}
