//! The proof from the bucket against a real S3 server (s3s-fs on
//! loopback, see `support::s3`) and, for what a real server does not do
//! (hang, answer garbage), a tiny loopback stub: what one listing pass
//! finds, and how each failure is reported.

use std::time::Duration;

use gridpane_backup_exporter::bucket::lister::{Lister, http_client};
use gridpane_backup_exporter::bucket::{
    BucketEvidence, IntegrationRef, Limits, ListOutcome, StorageEvidence,
};
use gridpane_backup_exporter::config::remote_storage::{ListingConfig, RemoteStorage};
use gridpane_backup_exporter::config::{Secret, TokenSource};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::s3::{ACCESS_KEY, S3Server, SECRET_KEY};

pub const UUID: &str = "876ac0ab-690f-4067-bdb6-9b2eec41b5d1";
pub const BUCKET: &str = "gridpane-backups-876ac0ab-690f-4067-bdb6-9b2eec41b";
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

pub fn entry(endpoint: &str, buckets: &[&str], secret: &str) -> RemoteStorage {
    RemoteStorage {
        name: "wasabi-main".to_string(),
        endpoint: endpoint.parse().unwrap(),
        path_style: true,
        region: "us-east-1".to_string(),
        access_key_id: TokenSource::Inline(Secret::from(ACCESS_KEY)),
        secret_access_key: TokenSource::Inline(Secret::from(secret)),
        buckets: buckets.iter().map(|b| b.to_string()).collect(),
        integrations: vec![IntegrationRef::Id(2700)],
    }
}

/// Bounds for a real server on a loaded 2-core machine: a generous
/// timeout, so that a count of requests is never a retry after a slow
/// page. The tests of timeouts set their own.
pub fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(20),
        max_retries: 1,
        retry_backoff: Duration::from_millis(10),
        min_gap: Duration::ZERO,
        ..Limits::default()
    }
}

pub async fn pass_with(entry: RemoteStorage, limits: Limits) -> StorageEvidence {
    let listing = ListingConfig::default();
    let lister = Lister::new("acme", &[entry], &listing, http_client(&listing).unwrap())
        .unwrap()
        .with_limits(limits);
    let mut evidence = lister.pass(&BucketEvidence::default()).await;
    evidence.storages.remove(0)
}

fn unix_age(at: f64) -> f64 {
    gridpane_backup_exporter_now() - at
}

fn gridpane_backup_exporter_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn a_pass_keeps_the_newest_revision_and_a_count_per_snapshot_id_across_pages() {
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    // Over 1,000 keys: the listing follows the continuation token.
    for r in 0..1_100u32 {
        s3.put(
            BUCKET,
            &format!("snapshots/gridpane-{UUID}-big.example/{}", 1000 + r),
            DAY * 60 - HOUR * r,
        );
    }
    s3.put(BUCKET, "snapshots/fresh-com/7", HOUR * 2);
    s3.put(BUCKET, "snapshots/fresh-com/6", DAY * 2);
    s3.put(BUCKET, "snapshots/deleted-org/1", DAY * 90);
    s3.put(BUCKET, "chunks/ab/cdef0123", DAY);
    let storage = pass_with(entry(&s3.endpoint, &[BUCKET], SECRET_KEY), limits()).await;
    assert!(storage.up(), "{storage:?}");
    let bucket = &storage.buckets[0];
    assert_eq!(bucket.outcome, ListOutcome::Listed);
    assert_eq!(bucket.keys, 1_103, "keys under snapshots/ only");
    assert_eq!(storage.requests, 2, "two pages of at most 1,000 keys");
    let big = bucket.ids[&format!("gridpane-{UUID}-big.example")];
    assert_eq!(big.count, 1_100);
    // The newest of them landed 60 days - 1,099 hours ago.
    let expected = (DAY * 60 - HOUR * 1_099).as_secs_f64();
    assert!(
        (unix_age(big.newest) - expected).abs() < 60.0,
        "{}",
        unix_age(big.newest)
    );
    let fresh = bucket.ids["fresh-com"];
    assert_eq!(fresh.count, 2);
    assert!((unix_age(fresh.newest) - 7_200.0).abs() < 60.0);
    assert!(bucket.ids.contains_key("deleted-org"));
    assert_eq!(bucket.ids.len(), 3);
    assert!(storage.last_success.is_some());
}

#[tokio::test]
async fn a_key_that_may_not_list_the_bucket_is_reported_as_forbidden() {
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    s3.put(BUCKET, "snapshots/fresh-com/7", HOUR);
    let storage = pass_with(
        entry(&s3.endpoint, &[BUCKET], "not-the-secret-key"),
        limits(),
    )
    .await;
    assert!(!storage.up());
    assert_eq!(
        storage.buckets[0].outcome,
        ListOutcome::Failed {
            reason: "forbidden"
        }
    );
    assert!(storage.buckets[0].ids.is_empty());
    assert_eq!(storage.errors.get("forbidden"), Some(&1));
    assert_eq!(storage.last_success, None);
}

#[tokio::test]
async fn a_bucket_that_does_not_exist_is_not_found_and_the_others_are_still_listed() {
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    s3.put(BUCKET, "snapshots/fresh-com/7", HOUR);
    let storage = pass_with(
        entry(&s3.endpoint, &["gridpane-backups-gone", BUCKET], SECRET_KEY),
        limits(),
    )
    .await;
    assert_eq!(
        storage.buckets[0].outcome,
        ListOutcome::Failed {
            reason: "not_found"
        }
    );
    assert_eq!(storage.buckets[1].outcome, ListOutcome::Listed);
    assert!(!storage.up());
}

#[tokio::test]
async fn a_huge_listing_stops_at_the_key_cap_without_the_id_it_stopped_in() {
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    for r in 0..20 {
        s3.put(BUCKET, &format!("snapshots/a-com/{r}"), HOUR);
        s3.put(BUCKET, &format!("snapshots/b-com/{r}"), HOUR);
    }
    let capped = Limits {
        max_keys: 30,
        ..limits()
    };
    let storage = pass_with(entry(&s3.endpoint, &[BUCKET], SECRET_KEY), capped).await;
    let bucket = &storage.buckets[0];
    assert_eq!(bucket.outcome, ListOutcome::Failed { reason: "key_cap" });
    assert_eq!(bucket.keys, 30);
    // a-com was read whole; b-com's revisions were cut: it proves nothing.
    assert_eq!(bucket.ids["a-com"].count, 20);
    assert!(!bucket.ids.contains_key("b-com"));
    assert_eq!(storage.errors.get("key_cap"), Some(&1));
}

/// A loopback server that answers every connection with `answer` after
/// `delay` (`None`: never answers).
async fn stub(answer: &'static str, delay: Option<Duration>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                match delay {
                    None => tokio::time::sleep(Duration::from_secs(3600)).await,
                    Some(d) => tokio::time::sleep(d).await,
                }
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

const GARBAGE: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 35\r\nConnection: close\r\n\r\n<ListBucketResult><Contents><Key>x<";

#[tokio::test]
async fn a_bucket_that_does_not_answer_times_out_after_its_retries() {
    let endpoint = stub("", None).await;
    let started = std::time::Instant::now();
    let quick = Limits {
        timeout: Duration::from_millis(500),
        ..limits()
    };
    let storage = pass_with(entry(&endpoint, &[BUCKET], SECRET_KEY), quick).await;
    // Two tries of 500 ms and a backoff, not the client's 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        storage.buckets[0].outcome,
        ListOutcome::Failed { reason: "timeout" }
    );
    assert_eq!(storage.requests, 2, "one try and one retry");
    assert_eq!(storage.errors.get("timeout"), Some(&2));
}

#[tokio::test]
async fn an_answer_that_is_not_a_listing_is_malformed_and_not_retried() {
    let endpoint = stub(GARBAGE, Some(Duration::ZERO)).await;
    let storage = pass_with(entry(&endpoint, &[BUCKET], SECRET_KEY), limits()).await;
    assert_eq!(
        storage.buckets[0].outcome,
        ListOutcome::Failed {
            reason: "malformed"
        }
    );
    assert_eq!(storage.requests, 1);
}
