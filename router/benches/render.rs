//! Per-segment playlist cost for long views (issue 16): pushing one segment and rendering the
//! new version, for a live window of 6, a 2 h time-shift view at 2 s segments (3,600 entries)
//! and an hour-long EVENT archive (1,800), with the kept entry text (`render`) and formatting
//! every entry again (`render_from_scratch`, what rendering did before). `push` alone and a
//! copy of the text (`copy`, the floor of any rendering that returns it whole) tell where the
//! rest of the time goes.
//!
//! `cargo bench -p streamrouter --bench render`

#![allow(
    clippy::panic,
    reason = "like a test, a benchmark whose setup is wrong must stop loudly"
)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use streamrouter::playlist::{MediaPlaylist, PlaylistConfig, PlaylistEntry};

/// Pushes measured on one event playlist before it is built again (it grows by this much).
const EVENT_CHUNK: u64 = 100;

struct Shape {
    name: &'static str,
    config: PlaylistConfig,
    /// Entries listed when measuring starts.
    listed: u64,
    /// It slides: measured on one running playlist. Otherwise it grows and is rebuilt.
    slides: bool,
}

fn shapes() -> [Shape; 3] {
    let config = |window, max_duration| PlaylistConfig {
        window,
        max_duration,
        target_duration: 2.0,
        independent_segments: true,
    };
    [
        Shape {
            name: "live_6",
            config: config(6, None),
            listed: 6,
            slides: true,
        },
        Shape {
            name: "dvr_3600",
            config: config(6, Some(7200.0)),
            listed: 3_600,
            slides: true,
        },
        Shape {
            name: "event_1800",
            config: config(0, None),
            listed: 1_800,
            slides: false,
        },
    ]
}

/// A 2 s segment with its program date-time, named as in the example config.
fn segment(sequence: u64) -> PlaylistEntry {
    let start: SystemTime = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    PlaylistEntry::new(sequence, format!("seg/cam-{sequence:05}.ts"), 2.0, false)
        .with_program_date_time(start + Duration::from_millis(2_000 * sequence + 17))
}

/// A playlist after `listed` pushes (and a few more for a sliding one: its steady state), and
/// the next segment's number.
fn built(shape: &Shape) -> (MediaPlaylist, u64) {
    let mut playlist = MediaPlaylist::new(shape.config.clone());
    let pushes = if shape.slides {
        shape.listed + 10
    } else {
        shape.listed
    };
    for sequence in 0..pushes {
        playlist.push(segment(sequence));
    }
    let listed = playlist.entries().len() as u64;
    if listed != shape.listed {
        panic!("{}: {listed} entries listed", shape.name);
    }
    (playlist, pushes)
}

/// Times `iters` steps of push-then-`step` at the shape's size.
fn measure(shape: &Shape, iters: u64, step: impl Fn(&mut MediaPlaylist, u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    let (mut playlist, mut sequence) = built(shape);
    while done < iters {
        let chunk = if shape.slides {
            iters - done
        } else {
            if done > 0 {
                (playlist, sequence) = built(shape);
            }
            EVENT_CHUNK.min(iters - done)
        };
        let started = Instant::now();
        for _ in 0..chunk {
            step(&mut playlist, sequence);
            sequence += 1;
        }
        total += started.elapsed();
        done += chunk;
    }
    total
}

fn per_segment(c: &mut Criterion) {
    for shape in shapes() {
        let (playlist, _) = built(&shape);
        let text = playlist.render();
        if text != playlist.render_from_scratch() {
            panic!("{}: the kept text renders differently", shape.name);
        }
        println!(
            "{}: {} entries, {} bytes rendered, {:.1} bytes kept per entry",
            shape.name,
            shape.listed,
            text.len(),
            playlist.rendered_capacity() as f64 / shape.listed as f64
        );
        let mut group = c.benchmark_group(format!("per_segment_{}", shape.name));
        group.sample_size(30);
        group.bench_function("render_from_scratch", |b| {
            b.iter_custom(|iters| {
                measure(&shape, iters, |p, seq| {
                    p.push(segment(seq));
                    black_box(p.render_from_scratch());
                })
            })
        });
        group.bench_function("render", |b| {
            b.iter_custom(|iters| {
                measure(&shape, iters, |p, seq| {
                    p.push(segment(seq));
                    black_box(p.render());
                })
            })
        });
        group.bench_function("push", |b| {
            b.iter_custom(|iters| {
                measure(&shape, iters, |p, seq| {
                    black_box(p.push(segment(seq)));
                })
            })
        });
        group.bench_function("copy", |b| b.iter(|| black_box(&text).clone()));
        group.finish();
    }
}

criterion_group!(benches, per_segment);
criterion_main!(benches);
