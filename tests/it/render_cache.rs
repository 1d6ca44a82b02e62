//! The cached exposition: byte for byte what a fresh render gives, rendered
//! once per change, and a gzip form any gzip reader decodes.

use crate::support;

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use gridpane_backup_exporter::config::{Secret, TokenSource};
use gridpane_backup_exporter::domain::{AccountSnapshot, Assessed, Policy};
use gridpane_backup_exporter::fake::FleetSpec;
use gridpane_backup_exporter::gridpane::Client;
use gridpane_backup_exporter::poller::{self, GridPaneSource, Source};
use gridpane_backup_exporter::render::cache::{CachedSnapshot, ExpositionCache};
use gridpane_backup_exporter::render::metrics::{self, GzipHead};
use gridpane_backup_exporter::store::{AccountState, Install, Store};
use rand::{Rng, SeedableRng};
use support::*;

/// A snapshot of a generated fleet, fetched from the fake over loopback as
/// a poll would.
async fn snapshot_of(account: &str, spec: FleetSpec) -> AccountSnapshot {
    let fake = fake(spec).await;
    let opts = fast_poll().client_options(&account_for(&fake));
    let source = GridPaneSource {
        client: Client::new(opts).unwrap(),
        token: TokenSource::Inline(Secret::from(TOKEN)).into(),
    };
    poller::build_snapshot(account, 1_795_000_000.0, source.fetch().await.unwrap())
}

fn account_for(
    fake: &gridpane_backup_exporter::fake::FakeGridPane,
) -> gridpane_backup_exporter::config::Account {
    account("x", fake, TOKEN)
}

fn spec(seed: u64, sites: usize) -> FleetSpec {
    FleetSpec {
        seed,
        servers: 3,
        sites,
    }
}

/// A store of two accounts (hostile names included) and one without data.
async fn store_with_snapshots() -> Store {
    let store = Store::new([
        "agency".to_string(),
        "empty".to_string(),
        "client-x".to_string(),
    ]);
    let slots = store.accounts().to_vec();
    store.install(
        &slots[0],
        Install::snapshot(snapshot_of("agency", spec(7, 60)).await, Utc::now()),
        |_| {},
    );
    store.install(
        &slots[2],
        Install::snapshot(snapshot_of("client-x", spec(8, 25)).await, Utc::now()),
        |_| {},
    );
    store
}

fn states(store: &Store) -> Vec<Arc<AccountState>> {
    store.accounts().iter().map(|a| a.load()).collect()
}

/// What a scrape at `now` serves with the cache: the cached part, then the
/// per-scrape part rendered at the instant the cache vouched for.
async fn cached_body(cache: &ExpositionCache, store: &Store, now: DateTime<Utc>) -> Vec<u8> {
    let (entry, at) = cache.get(&states(store), || now).await;
    assert_eq!(at, now);
    let loaded = metrics::load_states(store);
    let health: Vec<_> = loaded
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_ref()))
        .collect();
    let mut body = entry.text().to_vec();
    body.extend_from_slice(&entry.render_tail(&health, &Default::default(), b"", at));
    body
}

fn gunzip_one_member(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gunzip_all_members(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_exposition_is_what_a_fresh_render_gives_at_any_time() {
    let store = store_with_snapshots().await;
    let cache = ExpositionCache::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261122);
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let mut now = start;
    for _ in 0..300 {
        // Mostly small steps forward (many hits, some expiries), sometimes
        // a jump anywhere, backwards included.
        now = if rng.random_bool(0.1) {
            start + Duration::seconds(rng.random_range(-400 * 86_400..400 * 86_400))
        } else {
            now + Duration::milliseconds(rng.random_range(0..200_000))
        };
        let cached = cached_body(&cache, &store, now).await;
        let fresh = metrics::render(&store, b"", now);
        assert!(cached == fresh, "cached and fresh renders differ at {now}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_rendered_apart_and_merged_give_the_bytes_of_one_render_and_share_them() {
    let store = store_with_snapshots().await;
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let together = ExpositionCache::new().get(&states(&store), || now).await.0;
    let mut parts = Vec::new();
    for state in states(&store) {
        parts.push(ExpositionCache::new().get(&[state], || now).await.0);
    }
    let merged = CachedSnapshot::merged(&parts);
    assert!(merged.text().to_vec() == together.text().to_vec());
    assert_eq!(merged.text().len, together.text().len);
    assert_eq!(merged.text().valid_until, together.text().valid_until);
    let head = merged.gzip().await;
    let gz = [head.bytes.to_vec(), head.finish(b"")].concat();
    assert!(gunzip_one_member(&gz) == together.text().to_vec());
    // The samples are the parts' own bytes, not copies.
    let shared = merged.text().chunks.iter().filter(|c| {
        parts
            .iter()
            .flat_map(|p| &p.text().chunks)
            .any(|own| own.as_ptr_range().contains(&c.as_ptr()))
    });
    assert_eq!(shared.count(), merged.text().chunks.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_is_reused_until_the_earliest_next_run_has_come() {
    let store = store_with_snapshots().await;
    let cache = ExpositionCache::new();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 30).unwrap();
    let (first, _) = cache.get(&states(&store), || now).await;
    let until = first
        .text()
        .valid_until
        .expect("the fleet has schedules, so a next run");
    assert!(until > now);

    let just_before = until - Duration::milliseconds(1);
    let (again, _) = cache.get(&states(&store), || just_before).await;
    assert!(
        Arc::ptr_eq(&first, &again),
        "re-rendered before any next run came"
    );
    assert_eq!(
        cached_body(&cache, &store, just_before).await,
        metrics::render(&store, b"", just_before)
    );

    let (after, _) = cache.get(&states(&store), || until).await;
    assert!(
        !Arc::ptr_eq(&first, &after),
        "served a next run that has passed"
    );
    assert_eq!(
        cached_body(&cache, &store, until).await,
        metrics::render(&store, b"", until)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_that_replaces_a_snapshot_makes_the_cache_render_again() {
    let store = store_with_snapshots().await;
    let cache = ExpositionCache::new();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 30).unwrap();
    let (before, _) = cache.get(&states(&store), || now).await;

    // A failed poll changes health only: the snapshot part stays.
    let slot = store.accounts()[0].clone();
    store.update(&slot, |s| s.counters.polls += 1);
    let (same, _) = cache.get(&states(&store), || now).await;
    assert!(Arc::ptr_eq(&before, &same));

    // A successful one replaces the snapshot: one site fewer.
    let smaller = snapshot_of("agency", spec(7, 59)).await;
    store.install(&slot, Install::snapshot(smaller, Utc::now()), |_| {});
    let (after, _) = cache.get(&states(&store), || now).await;
    assert!(!Arc::ptr_eq(&before, &after));
    assert_eq!(
        cached_body(&cache, &store, now).await,
        metrics::render(&store, b"", now)
    );
}

fn chunk_addresses(text: &metrics::SnapshotText) -> Vec<usize> {
    text.chunks.iter().map(|c| c.as_ptr() as usize).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_into_the_unshared_buffers_of_the_last_one_reuses_them_and_gives_the_same_bytes() {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 30).unwrap();
    // Judged as the store judges them: the assessment's entry, with a
    // policy and the time.
    let policy = Policy::default();
    let first = Assessed::new(snapshot_of("agency", spec(7, 60)).await, &policy, now);
    let smaller = Assessed::new(snapshot_of("agency", spec(7, 59)).await, &policy, now);

    // The same data again: every family fills its old buffer exactly.
    let text = metrics::snapshot_text(&[&first], now);
    let addresses = chunk_addresses(&text);
    let again = metrics::snapshot_text_recycled(&[&first], now, text);
    assert_eq!(
        chunk_addresses(&again),
        addresses,
        "buffers were not reused"
    );
    assert_eq!(
        again.to_vec(),
        metrics::snapshot_text(&[&first], now).to_vec()
    );

    // Different data, and one chunk still held by a response being sent:
    // that one is left alone, the rest are written again.
    let held = again.chunks[0].clone();
    let held_bytes = held.to_vec();
    let next = metrics::snapshot_text_recycled(&[&smaller], now, again);
    assert_eq!(
        next.to_vec(),
        metrics::snapshot_text(&[&smaller], now).to_vec()
    );
    assert_eq!(held.to_vec(), held_bytes, "a chunk in use was overwritten");
    assert_ne!(next.chunks[0].as_ptr(), held.as_ptr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_renders_a_new_snapshot_into_the_buffers_of_the_stale_entry() {
    let store = store_with_snapshots().await;
    let cache = ExpositionCache::new();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 30).unwrap();
    let (before, _) = cache.get(&states(&store), || now).await;
    let addresses = chunk_addresses(before.text());
    drop(before);

    // The same fleet, polled again: a new snapshot of the same size.
    let slot = store.accounts()[0].clone();
    store.install(
        &slot,
        Install::snapshot(snapshot_of("agency", spec(7, 60)).await, Utc::now()),
        |_| {},
    );
    let (after, _) = cache.get(&states(&store), || now).await;
    assert_eq!(chunk_addresses(after.text()), addresses);
    assert_eq!(
        cached_body(&cache, &store, now).await,
        metrics::render(&store, b"", now)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_of_a_stale_cache_render_it_once() {
    let store = Arc::new(store_with_snapshots().await);
    let cache = Arc::new(ExpositionCache::new());
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 30).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (store, cache) = (Arc::clone(&store), Arc::clone(&cache));
        tasks.push(tokio::spawn(async move {
            cache.get(&states(&store), || now).await.0
        }));
    }
    let mut entries = Vec::new();
    for t in tasks {
        entries.push(t.await.unwrap());
    }
    assert!(
        entries.iter().all(|e| Arc::ptr_eq(e, &entries[0])),
        "more than one render for one state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gzip_form_is_one_member_that_decodes_to_the_plain_exposition() {
    let store = store_with_snapshots().await;
    let cache = ExpositionCache::new();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 30).unwrap();
    let (entry, at) = cache.get(&states(&store), || now).await;
    let plain = cached_body(&cache, &store, at).await;
    let loaded = metrics::load_states(&store);
    let health: Vec<_> = loaded
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_ref()))
        .collect();
    let tail = metrics::render_tail(&health, &Default::default(), b"", at);

    let head = entry.gzip().await;
    let mut gz = head.bytes.to_vec();
    gz.extend_from_slice(&head.finish(&tail));
    assert_eq!(gunzip_one_member(&gz), plain, "a single-member reader");
    assert_eq!(gunzip_all_members(&gz), plain, "a multi-member reader");

    // The same head serves every scrape: another tail, another body.
    let mut other = head.bytes.to_vec();
    other.extend_from_slice(&head.finish(b"# another scrape\n"));
    let mut expected = entry.text().to_vec();
    expected.extend_from_slice(b"# another scrape\n");
    assert_eq!(gunzip_one_member(&other), expected);
}

#[test]
fn an_empty_exposition_still_gzips_to_a_valid_member() {
    let head = GzipHead::new(&[]);
    let mut gz = head.bytes.to_vec();
    gz.extend_from_slice(&head.finish(b"gridpane_up 0\n"));
    assert_eq!(gunzip_one_member(&gz), b"gridpane_up 0\n");
    // A tail longer than one stored block (64 KiB) is split.
    let long: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut gz = head.bytes.to_vec();
    gz.extend_from_slice(&head.finish(&long));
    assert_eq!(gunzip_one_member(&gz), long);
    if let Some(by_gzip) = system_gunzip(&gz) {
        assert_eq!(by_gzip, long);
    }
    let mut nothing = head.bytes.to_vec();
    nothing.extend_from_slice(&head.finish(b""));
    assert_eq!(gunzip_one_member(&nothing), b"");
}

/// Runs `gzip -dc` on the body if gzip is installed: a reader that is not
/// the one that wrote it.
fn system_gunzip(gz: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = gz.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().ok()?;
    let _ = writer.join();
    assert!(out.status.success(), "gzip -dc rejected the body");
    Some(out.stdout)
}

async fn scrape(addr: std::net::SocketAddr, gzip: bool) -> (Option<u64>, Vec<u8>) {
    let mut req = reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(format!("http://{addr}/metrics"));
    if gzip {
        req = req.header("Accept-Encoding", "gzip");
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-encoding").is_some(),
        gzip,
        "content-encoding"
    );
    let declared = resp.content_length();
    (declared, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_exporter_serves_the_cached_exposition_with_its_length_plain_and_gzipped() {
    let fake = fake(spec(11, 120)).await;
    let app = start(vec![account("agency", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;

    let (declared, plain) = scrape(app.addr, false).await;
    assert_eq!(declared, Some(plain.len() as u64));
    let text = String::from_utf8(plain.clone()).unwrap();
    assert!(text.contains("gridpane_sites{account=\"agency\"} 120\n"));
    assert!(text.contains("\n# TYPE process_resident_memory_bytes gauge\n"));
    promtool_check_metrics(&plain);

    let (declared, gz) = scrape(app.addr, true).await;
    assert_eq!(declared, Some(gz.len() as u64));
    let unzipped = gunzip_one_member(&gz);
    if let Some(by_gzip) = system_gunzip(&gz) {
        assert_eq!(by_gzip, unzipped);
    }
    let unzipped_text = String::from_utf8(unzipped.clone()).unwrap();
    assert!(unzipped_text.contains("gridpane_sites{account=\"agency\"} 120\n"));
    assert!(unzipped_text.contains("gridpane_up{account=\"agency\"} 1\n"));
    promtool_check_metrics(&unzipped);
    app.shutdown().await;
}

#[tokio::test]
async fn the_render_on_every_scrape_baseline_serves_the_same_families() {
    let fake = fake(spec(11, 30)).await;
    let config = gridpane_backup_exporter::config::Config {
        accounts: vec![account("agency", &fake, TOKEN)],
        poll: fast_poll(),
        state_file: None,
        policy: Default::default(),
        access: None,
    };
    let app = gridpane_backup_exporter::app::App::start(
        config,
        gridpane_backup_exporter::app::WebOptions {
            disable_exposition_cache: true,
            ..test_web()
        },
    )
    .await
    .unwrap();
    wait_first_poll(&app).await;
    let (_, plain) = scrape(app.addr, false).await;
    let (_, gz) = scrape(app.addr, true).await;
    let families = |body: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(body)
            .lines()
            .filter(|l| l.starts_with("# TYPE "))
            .map(str::to_string)
            .collect()
    };
    let unzipped = gunzip_one_member(&gz);
    assert_eq!(families(&plain), families(&unzipped));
    assert!(families(&plain).contains(&"# TYPE gridpane_site_info gauge".to_string()));
    promtool_check_metrics(&plain);
    app.shutdown().await;
}
