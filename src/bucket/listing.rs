//! One bucket listed in full, paced and bounded: pages of `snapshots/`
//! followed by continuation token, each request retried with backoff when
//! the endpoint may answer next time, a minimum gap between requests, a
//! cap on the keys read. Only the newest revision and a count are kept per
//! snapshot id, so memory grows with sites, not with revisions.

use std::collections::BTreeMap;
use std::time::Duration;

use rusty_s3::Bucket;
use tokio::time::Instant;

use super::client::{Keys, ListError, Page, list_page};
use super::index::{ListOutcome, Revisions};

/// Where Duplicacy keeps its revision files.
pub const PREFIX: &str = "snapshots/";

/// The bounds of one listing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Total time one request may take, body included.
    pub timeout: Duration,
    /// Retries of one request after a timeout, a network error, a 429 or a
    /// 5xx.
    pub max_retries: u32,
    /// The first retry waits this long; each further one twice as long.
    pub retry_backoff: Duration,
    /// A listing stops after this many keys (the bucket counts as not
    /// listed, reason `key_cap`).
    pub max_keys: u64,
    /// A page answer over this many bytes fails the listing.
    pub max_page_bytes: u64,
    /// The shortest time between the starts of two requests; zero: unpaced.
    pub min_gap: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_backoff: Duration::from_secs(1),
            max_keys: 2_000_000,
            max_page_bytes: 16 * 1024 * 1024,
            min_gap: Duration::from_millis(40),
        }
    }
}

/// Keeps requests at least `min_gap` apart.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    last: Option<Instant>,
}

impl Pacer {
    async fn wait(&mut self, gap: Duration) {
        if let Some(last) = self.last {
            tokio::time::sleep_until(last + gap).await;
        }
        self.last = Some(Instant::now());
    }
}

/// What one listing of one bucket found.
#[derive(Debug, Default)]
pub struct Listed {
    /// Snapshot id -> revisions, for every id whose keys were all read.
    pub ids: BTreeMap<String, Revisions>,
    pub keys: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Failed requests by reason (retried ones included).
    pub errors: Vec<&'static str>,
    /// Why the listing stopped before the last page; `None`: complete.
    pub stopped: Option<ListError>,
}

/// Lists every `snapshots/<id>/<revision>` key of `bucket`.
pub(crate) async fn list_bucket(
    http: &reqwest::Client,
    bucket: &Bucket,
    keys: &Keys,
    limits: &Limits,
    pacer: &mut Pacer,
) -> Listed {
    let mut out = Listed::default();
    let mut token: Option<String> = None;
    // The id the listing is in: its revisions may go on in the next page.
    let mut open: Option<String> = None;
    loop {
        let page = match request(
            http,
            bucket,
            keys,
            token.as_deref(),
            limits,
            pacer,
            &mut out,
        )
        .await
        {
            Ok(page) => page,
            Err(e) => {
                out.stop(e, open.as_deref());
                return out;
            }
        };
        for (key, modified) in page.keys {
            if out.keys >= limits.max_keys {
                out.stop(ListError::KeyCap(limits.max_keys), open.as_deref());
                return out;
            }
            out.keys += 1;
            let Some((id, at)) = revision(&key, modified) else {
                continue;
            };
            if open.as_deref() != Some(id) {
                open = Some(id.to_string());
            }
            match out.ids.get_mut(id) {
                Some(r) => r.add(at),
                None => {
                    out.ids.insert(
                        id.to_string(),
                        Revisions {
                            newest: at,
                            count: 1,
                        },
                    );
                }
            }
        }
        match page.next {
            // A token that does not move would list the same page forever.
            Some(next) if token.as_deref() == Some(next.as_str()) => {
                out.stop(ListError::Malformed, open.as_deref());
                return out;
            }
            Some(next) => token = Some(next),
            None => return out,
        }
    }
}

impl Listed {
    /// How the listing went, as the evidence keeps it.
    pub fn outcome(&self) -> ListOutcome {
        match &self.stopped {
            None => ListOutcome::Listed,
            Some(e) => ListOutcome::Failed { reason: e.reason() },
        }
    }

    fn stop(&mut self, e: ListError, open: Option<&str>) {
        if let Some(id) = open {
            self.ids.remove(id);
        }
        self.errors.push(e.reason());
        self.stopped = Some(e);
    }
}

/// One page, retried with backoff while the failure is transient.
async fn request(
    http: &reqwest::Client,
    bucket: &Bucket,
    keys: &Keys,
    token: Option<&str>,
    limits: &Limits,
    pacer: &mut Pacer,
    out: &mut Listed,
) -> Result<Page, ListError> {
    let mut backoff = limits.retry_backoff;
    let mut attempt = 0;
    loop {
        pacer.wait(limits.min_gap).await;
        out.requests += 1;
        let result = list_page(
            http,
            bucket,
            keys,
            PREFIX,
            token,
            limits.timeout,
            limits.max_page_bytes,
        )
        .await;
        match result {
            Err(e) if e.is_transient() && attempt < limits.max_retries => {
                out.errors.push(e.reason());
                attempt += 1;
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
            other => return other,
        }
    }
}

/// `snapshots/<id>/<revision>` with a LastModified: the id and when that
/// revision landed. Other keys (chunks elsewhere, odd names) are not
/// revisions.
fn revision(key: &str, modified: Option<f64>) -> Option<(&str, f64)> {
    let (id, number) = key.strip_prefix(PREFIX)?.split_once('/')?;
    let revision =
        !id.is_empty() && !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    match (revision, modified) {
        (true, Some(at)) => Some((id, at)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_numbered_files_under_a_snapshot_id_are_revisions() {
        assert_eq!(
            revision("snapshots/example-com/10481", Some(5.0)),
            Some(("example-com", 5.0))
        );
        assert_eq!(revision("snapshots/example-com/10481", None), None);
        assert_eq!(revision("snapshots/example-com/", Some(5.0)), None);
        assert_eq!(revision("snapshots/example-com/x1", Some(5.0)), None);
        assert_eq!(revision("snapshots//1", Some(5.0)), None);
        assert_eq!(revision("chunks/ab/cdef", Some(5.0)), None);
        assert_eq!(revision("snapshots/a/b/1", Some(5.0)), None);
    }
}
