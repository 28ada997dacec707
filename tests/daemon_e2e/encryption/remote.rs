//! Keys and segments in two S3 buckets (moto), and a key sink down at the start holding
//! everything back.

use super::*;

/// The object keys of bucket `bucket` at `base` (ListObjectsV2, one page: the tests store far
/// fewer than 1000).
fn bucket_keys(base: &str, bucket: &str) -> Vec<String> {
    let (status, _, body) = http_request("GET", &format!("{base}/{bucket}?list-type=2"));
    assert!(status.contains("200"), "listing {bucket}: {status}");
    let xml = String::from_utf8(body).unwrap();
    assert!(
        !xml.contains("<IsTruncated>true</IsTruncated>"),
        "{bucket}: more than one page"
    );
    let mut keys: Vec<String> = (xml.split("<Key>").skip(1))
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect();
    keys.sort();
    keys
}

/// An S3 sink `name` of `inputs` to bucket `bucket` on the S3 server at `base`.
fn s3_sink(name: &str, inputs: &str, bucket: &str, base: &str) -> String {
    format!(
        r#"[sinks.{name}]
type = "s3"
inputs = {inputs}
bucket = "{bucket}"
region = "us-east-1"
endpoint = "{base}"
access_key_id = "testing"
secret_access_key = "testing"
acl = "public-read"

"#
    )
}

#[test]
fn keys_go_to_their_own_s3_bucket_while_segments_go_to_another() {
    ff::require_tools();
    let (_server, base) = s3_with_bucket("media");
    let (status, _, _) = http_request("PUT", &format!("{base}/keys"));
    assert!(status.contains("200"), "create bucket keys: {status}");
    let dir = tempfile::tempdir().unwrap();
    let key_base = format!("{base}/keys/");
    let source = router::data("h264_aac.ts");
    // Paced in real time, so that each next key is stored in the bucket before it is due.
    let text = format!(
        "[router]\nstate_dir = \"{}\"\n\n",
        dir.path().join("state").display()
    ) + &encrypted_feed(&source, (true, false), 0, 2, &key_base, "keys")
        + &s3_sink("cdn", "[\"cam\"]", "media", &base)
        + &s3_sink("keys", "[]", "keys", &base);
    let config = write_config(dir.path(), "s3.toml", &text);
    let mut daemon = Daemon::start(&config);
    let playlist_url = format!("{base}/media/index.m3u8");
    wait_running(
        &mut daemon,
        "the final playlist in the media bucket",
        Duration::from_secs(40),
        || {
            try_http_request("GET", &playlist_url).is_ok_and(|(status, _, body)| {
                status.contains("200") && body.ends_with(b"#EXT-X-ENDLIST\n")
            })
        },
    );
    let (_, _, body) = http_get(&playlist_url);
    let text = String::from_utf8(body).unwrap();
    let entries = sealed_entries(&text);
    assert_eq!(entries.len(), 6, "{text}");
    assert_rotation(&entries, 2, &key_base, &text);
    assert_eq!(distinct_keys(&entries), 3, "{text}");

    // The keys bucket holds the key objects and nothing else; the media bucket no key.
    let in_keys = bucket_keys(&base, "keys");
    let in_media = bucket_keys(&base, "media");
    let named: Vec<String> = (entries.iter())
        .map(|entry| key_name(&entry.key_uri, &key_base))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        named.iter().all(|name| in_keys.contains(name)),
        "keys named {named:?}, keys bucket holds {in_keys:?}"
    );
    assert!(
        in_keys.iter().all(|name| name.ends_with(".key")),
        "the keys bucket holds other objects: {in_keys:?}"
    );
    assert!(
        in_media.iter().all(|name| !name.ends_with(".key")),
        "a key in the media bucket: {in_media:?}"
    );
    let mut public: Vec<String> = entries.iter().map(|entry| entry.uri.clone()).collect();
    public.push("index.m3u8".to_owned());
    public.sort();
    assert_eq!(in_media, public, "the media bucket holds other objects");

    let mut key_bytes = BTreeMap::new();
    for name in &in_keys {
        let (status, _, body) = http_get(&format!("{key_base}{name}"));
        assert!(status.contains("200"), "{name}: {status}");
        assert_eq!(body.len(), 16, "key {name} has {} bytes", body.len());
        key_bytes.insert(name.clone(), body);
    }
    for entry in &entries {
        let (status, _, ciphertext) = http_get(&format!("{base}/media/{}", entry.uri));
        assert!(status.contains("200"), "{}: {status}", entry.uri);
        let key = &key_bytes[&key_name(&entry.key_uri, &key_base)];
        assert_sealed_ts(&ciphertext, key, &entry.iv, &entry.uri);
    }
    // A player reads the segments from one bucket and the keys from the other.
    assert_same_frames(
        Path::new(&playlist_url),
        &source,
        "the playlist from the media bucket, keys from the keys bucket",
    );
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}

/// The key sink (an S3 bucket behind a proxy) is down when the daemon starts: nothing reaches
/// the public sink while the first key cannot be stored, never a segment in the clear; once
/// the bucket is back, the feed is published encrypted from key 0 and decrypts.
#[test]
fn nothing_is_published_until_the_key_sink_stores_the_first_key() {
    let (server, base) = s3_with_bucket("keys");
    let proxy = Proxy::start(server.port);
    proxy.set_down(true);
    let dir = tempfile::tempdir().unwrap();
    let key_base = format!("{base}/keys/");
    let web = dir.path().join("web");
    let text = format!(
        "[router]\nstate_dir = \"{}\"\n\n",
        dir.path().join("state").display()
    ) + &encrypted_feed(
        &router::data("h264_aac.ts"),
        (true, true),
        0,
        2,
        &key_base,
        "keys",
    ) + &format!(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n\n",
        web.display()
    ) + &s3_sink(
        "keys",
        "[]",
        "keys",
        &format!("http://127.0.0.1:{}", proxy.port),
    );
    let config = write_config(dir.path(), "down.toml", &text);
    let mut daemon = Daemon::start(&config);
    // 8 s of media (four segments cut) while the key sink is down: nothing at the public sink.
    let down_until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < down_until {
        let published = if web.exists() {
            files_under(&web)
        } else {
            Vec::new()
        };
        assert!(
            published.iter().all(|name| name.starts_with('.')),
            "published while the key sink is down: {published:?}"
        );
        assert!(daemon.is_running(), "{}", daemon.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.set_down(false);
    let playlist_path = web.join("index.m3u8");
    wait_running(
        &mut daemon,
        "four segments listed once the key sink is back",
        Duration::from_secs(60),
        || listed(&playlist_path).len() >= 4,
    );
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{}", tail(&logs, 40));
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let entries = sealed_entries(&text);
    assert_eq!(key_number(&entries[0].key_uri, &key_base), 0, "{text}");
    // Every segment file at the public sink, listed or not, is encrypted with a listed key.
    let ivs: BTreeMap<&str, &Sealed> = (entries.iter())
        .map(|entry| (entry.uri.as_str(), entry))
        .collect();
    for name in files_under(&web) {
        if name == "index.m3u8" {
            continue;
        }
        let entry = ivs
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} at the public sink is not listed\n{text}"));
        let (status, _, key) = http_get(&entry.key_uri);
        assert!(status.contains("200"), "{}: {status}", entry.key_uri);
        assert_sealed_ts(&router::read(&web.join(&name)), &key, &entry.iv, &name);
    }
}
