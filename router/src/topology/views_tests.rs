//! In-process tests of time-shift views in the running graph, on tokio's paused clock: each
//! variant's DVR view is published beside its live window, a master over variants that all
//! have one gets a time-shift master listing them, segments are deleted only once they leave
//! the time-shift view, and a reload adds a view to a running feed without restarting it.

use super::testkit::{Running, until};

/// Feed `name` on the tiny stream: a live window of 3 one-second segments, and a time-shift
/// view of `dvr` (TOML table body) when given.
fn feed(name: &str, dvr: Option<&str>) -> String {
    let mut text = format!(
        "\n[sources.{name}]\ntype = \"file\"\npath = \"{{tiny}}\"\nrealtime = true\n\
         [segmenters.{name}]\ninput = \"{name}\"\ntarget_duration = 1\n\
         [playlists.{name}]\ninput = \"{name}\"\nwindow = 3\n"
    );
    if let Some(dvr) = dvr {
        text += &format!("[playlists.{name}.dvr]\n{dvr}\n");
    }
    text
}

fn sink(inputs: &[&str]) -> String {
    format!("\n[sinks.out]\ntype = \"local\"\npath = \"/srv/out\"\ninputs = {inputs:?}\n")
}

#[tokio::test(start_paused = true)]
async fn variants_with_time_shift_views_get_a_time_shift_master() {
    let dvr = Some("duration = \"5s\"");
    let config = feed("v-lo", dvr)
        + &feed("v-hi", dvr)
        + "\n[masters.show]\nvariants = [\"v-lo\", \"v-hi\"]\n"
        + &sink(&["show"]);
    let running = Running::start("", &config).await;
    let out = running.sink("out");
    let shifted = until("the DVR view past its length", || {
        let view = out.media("v-lo-dvr.m3u8");
        view.filter(|m| m.entries.last().is_some_and(|e| e.sequence >= 9))
    })
    .await;
    // 5 to 6 one-second segments in the view, 3 in the live window.
    let (last, listed) = (
        shifted.entries.last().unwrap().sequence,
        shifted.entries.len(),
    );
    assert!((5..=6).contains(&listed), "{shifted:?}");
    assert_eq!(out.media("v-lo.m3u8").unwrap().entries.len(), 3);
    // What left the view is deleted (after its RFC 8216 delay); what it lists is there.
    let keys = out.keys();
    for entry in &shifted.entries {
        assert!(
            keys.contains(&entry.uri),
            "{} listed, not stored",
            entry.uri
        );
    }
    until("the first segments deleted", || {
        let keys = out.keys();
        (!keys.contains(&"v-lo-00001.ts".to_owned())).then_some(())
    })
    .await;
    assert!(last > 8);
    let master = until("the time-shift master", || out.text("show-dvr.m3u8")).await;
    assert!(
        master.contains("\nv-lo-dvr.m3u8\n") && master.contains("\nv-hi-dvr.m3u8\n"),
        "{master}"
    );
    let live_master = out.text("show.m3u8").unwrap();
    assert!(live_master.contains("\nv-lo.m3u8\n"), "{live_master}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_adds_a_time_shift_view_to_a_running_feed() {
    let mut running = Running::start("", &(feed("cam", None) + &sink(&["cam"]))).await;
    running.segments("out", "cam.m3u8", 3).await;
    let tasks = running.feed_tasks("cam");
    let config = feed("cam", Some("duration = \"8s\"")) + &sink(&["cam"]);
    let diff = running.reload(&config, &[]).await;
    assert!(diff.playlists.changed.contains_key("cam"), "{diff}");
    let out = running.sink("out");
    let shifted = until("the new DVR view", || out.media("cam-dvr.m3u8")).await;
    // It starts with the live window.
    assert!(shifted.entries.len() >= 4, "{shifted:?}");
    let grown = until("the view to grow past the live window", || {
        out.media("cam-dvr.m3u8").filter(|m| m.entries.len() >= 8)
    })
    .await;
    assert_eq!(grown.first_discontinuity(), None, "{grown:?}");
    assert_eq!(running.feed_tasks("cam"), tasks, "the feed was restarted");
    running.stop().await;
}
