//! The production source: bulk endpoints every poll, and a `/site` sweep that
//! may span several polls.
//!
//! Every poll reads `/backups/schedules`, `/backups/integrations` and `/server`
//! (a handful of requests), so schedules and integrations are never older
//! than one poll. The `/site` list costs 2 units a page against an endpoint
//! budget of about 12 a minute: 10 000 sites at 200 a page take about ten
//! minutes at the budget's pace. So the sweep goes on where the previous poll
//! left it, for at most `slice` per poll (at least one page), and the site
//! list of the snapshot is the last *complete* sweep, updated with the pages
//! read so far: a partial sweep adds and refreshes sites but never removes
//! one. The first sweep (nothing complete yet) runs to its end in one poll,
//! and publishes as it goes: once the bulk endpoints have answered, then
//! after each page (sites not read yet are pending, see
//! [`crate::domain::pending`]).
//!
//! Pages can shift under a sweep of several pages (a site deleted on page 1
//! while page 5 is being read moves every later site one place up), so a
//! site that such a sweep did not list may merely have been skipped. It is
//! removed when the next complete sweep does not list it either. A
//! one-page sweep is a single answer and removes at once, unless it looks
//! like a broken answer rather than a shrinking fleet.
//!
//! A successful-looking answer never wipes the fleet: a complete sweep that
//! would remove every site, or more than `poll.max_site_removal_share` of
//! them, or that lists a different number of sites than its own
//! `meta.total`, removes nothing yet. The sites it did not list are kept,
//! as for a multi-page sweep, and go only when the next complete sweep does
//! not list them either. [`SweepingSource::unconfirmed_removals`] counts the
//! sites kept that way (`gridpane_sites_unconfirmed_removals`).
//!
//! The sites of the complete list and of the sweep in progress together
//! never exceed `poll.max_items_per_account`: the page that would pass it
//! fails the poll as `too_large`, and the sweep starts again from page 1.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::Fetched;
use crate::gridpane::{ApiError, Client, Endpoint, RequestTally, wire};

use super::{Partial, Publish, Source, Token};
use crate::store::SweepStatus;

struct Sweep {
    /// The last complete site list, by id.
    complete: Option<BTreeMap<u64, wire::Site>>,
    /// The next page to read.
    next_page: u32,
    /// Sites read by the sweep in progress.
    seen: BTreeMap<u64, wire::Site>,
    /// How many of `seen` the complete list lacks: the merged list holds
    /// `complete.len() + added` sites.
    added: usize,
    /// Sites the last complete sweep did not list but kept: the next one
    /// removes them if it does not list them either.
    missing_once: HashSet<u64>,
    /// Whether `missing_once` is held because the drop looked broken (every
    /// site, more than the share, against `meta.total`), not merely because
    /// pages may have shifted.
    held_as_suspicious: bool,
    /// A larger share of removals waits for the next sweep.
    max_removal_share: f64,
    /// Cap on the merged list.
    max_sites: usize,
    /// Sites the last page read said the account has (`meta.total`).
    total: Option<u64>,
    /// While a first sweep runs: no page's publication before this instant
    /// (see [`PUBLISH_SHARE`]).
    publish_after: std::sync::Mutex<Option<Instant>>,
}

/// A first sweep's publications after its pages take at most a tenth of its
/// time: after one that took `d`, the next page's waits until `PUBLISH_SHARE
/// x d` more have passed. Each publication builds and judges the whole fleet
/// read so far, so one after every page costs time in the square of the
/// pages when they come fast (requests_per_minute 0, a fake on loopback): at
/// 100k sites, 500 pages, the poll took 87 s, 84 s of it in publications.
/// Paced by GridPane's limits (a page every few seconds) every page is still
/// published; the first publications of a poll (bulk answers, servers) are
/// never held back.
const PUBLISH_SHARE: u32 = 9;

impl Sweep {
    fn new(max_removal_share: f64, max_sites: usize) -> Self {
        Sweep {
            complete: None,
            next_page: 1,
            seen: BTreeMap::new(),
            added: 0,
            missing_once: HashSet::new(),
            held_as_suspicious: false,
            max_removal_share,
            max_sites,
            total: None,
            publish_after: std::sync::Mutex::new(None),
        }
    }

    fn restart(&mut self) {
        self.next_page = 1;
        self.seen.clear();
        self.added = 0;
    }

    /// Adds a site read by the sweep in progress; false (and nothing added)
    /// when the merged list would grow past the cap.
    fn add(&mut self, site: wire::Site) -> bool {
        let known = self.seen.contains_key(&site.id)
            || self
                .complete
                .as_ref()
                .is_some_and(|c| c.contains_key(&site.id));
        if !known {
            let merged = self.complete.as_ref().map_or(0, BTreeMap::len) + self.added;
            if merged >= self.max_sites {
                return false;
            }
            self.added += 1;
        }
        self.seen.insert(site.id, site);
        true
    }

    /// Whether removing `missing` of the `previous` sites, with `listed`
    /// sites listed and `total` announced, looks like a broken answer.
    fn suspicious(
        &self,
        previous: usize,
        missing: usize,
        listed: usize,
        total: Option<u64>,
    ) -> bool {
        missing > 0
            && (listed == 0
                || missing as f64 > self.max_removal_share * previous as f64
                || total.is_some_and(|t| t != listed as u64))
    }

    /// The sweep ended on page `last_page`, whose `meta.total` was `total`:
    /// its sites become the complete list, except that sites missing for the
    /// first time are kept one sweep longer when the sweep spans several
    /// pages or its removals look suspicious.
    fn complete(&mut self, last_page: u32, total: Option<u64>) {
        let mut done = std::mem::take(&mut self.seen);
        let mut strikes = HashSet::new();
        self.held_as_suspicious = false;
        if let Some(previous) = &self.complete {
            let missing: Vec<&wire::Site> = previous
                .values()
                .filter(|s| !done.contains_key(&s.id))
                .collect();
            let suspicious = self.suspicious(previous.len(), missing.len(), done.len(), total);
            self.held_as_suspicious = suspicious;
            if last_page > 1 || suspicious {
                for site in missing {
                    if !self.missing_once.contains(&site.id) {
                        strikes.insert(site.id);
                        done.insert(site.id, site.clone());
                    }
                }
            }
        }
        self.missing_once = strikes;
        self.complete = Some(done);
        self.restart();
    }

    /// Sites served only because a drop that looked broken waits for
    /// confirmation (sites held only because pages may have shifted are
    /// routine and not counted).
    fn unconfirmed(&self) -> usize {
        if !self.held_as_suspicious {
            return 0;
        }
        self.missing_once
            .iter()
            .filter(|id| !self.seen.contains_key(id))
            .count()
    }

    /// The site list to serve: the last complete list, refreshed and
    /// extended by the sweep in progress.
    /// Both maps are walked once, in id order, without copying either.
    fn merged(&self) -> Vec<wire::Site> {
        let empty = BTreeMap::new();
        let complete = self.complete.as_ref().unwrap_or(&empty);
        let mut out = Vec::with_capacity(complete.len().max(self.seen.len()));
        let mut old = complete.values().peekable();
        for (id, site) in &self.seen {
            while let Some(kept) = old.next_if(|s| s.id < *id) {
                out.push(kept.clone());
            }
            old.next_if(|s| s.id == *id);
            out.push(site.clone());
        }
        out.extend(old.cloned());
        out
    }
}

/// The account's client and token, and the `/site` sweep in progress.
pub struct SweepingSource {
    client: Arc<Client>,
    token: Token,
    slice: Duration,
    sweep: tokio::sync::Mutex<Sweep>,
    /// [`Sweep::unconfirmed`] after the last page read.
    unconfirmed: AtomicUsize,
}

/// The guards of the sweep.
#[derive(Clone, Copy, Debug)]
pub struct SweepLimits {
    /// `poll.max_site_removal_share`.
    pub max_removal_share: f64,
    /// `poll.max_items_per_account`.
    pub max_sites: usize,
}

impl SweepingSource {
    /// `slice`: how long one poll may spend on `/site` pages once a complete
    /// list exists (the poll interval in production).
    pub fn new(
        client: Arc<Client>,
        token: impl Into<Token>,
        slice: Duration,
        limits: SweepLimits,
    ) -> Self {
        SweepingSource {
            client,
            token: token.into(),
            slice,
            sweep: tokio::sync::Mutex::new(Sweep::new(limits.max_removal_share, limits.max_sites)),
            unconfirmed: AtomicUsize::new(0),
        }
    }

    /// Where a first sweep is, for its publications.
    fn status(&self, sweep: &Sweep) -> SweepStatus {
        let per_page = u64::from(self.client.per_page().max(1));
        SweepStatus {
            pages_read: sweep.next_page.saturating_sub(1),
            pages_total: sweep
                .total
                .and_then(|t| u32::try_from(t.div_ceil(per_page)).ok()),
            sites_total: sweep.total,
            sites_pending: 0,
        }
    }

    /// Hands `publish` the bulk answers with the sites read so far, while
    /// no sweep has completed yet.
    ///
    /// `after_page`: a page's publication, which waits while the last one's
    /// share of the time ([`PUBLISH_SHARE`]) has not passed.
    fn publish_first(
        &self,
        sweep: &Sweep,
        bulk: &Fetched,
        publish: &Publish<'_>,
        after_page: bool,
    ) {
        if sweep.complete.is_some() {
            return;
        }
        let started = Instant::now();
        let held = || {
            sweep
                .publish_after
                .lock()
                .is_ok_and(|at| at.is_some_and(|at| started < at))
        };
        if after_page && held() {
            return;
        }
        publish(Partial {
            fetched: Fetched {
                sites: sweep.merged(),
                ..bulk.clone()
            },
            sweep: self.status(sweep),
        });
        let now = Instant::now();
        if let Ok(mut at) = sweep.publish_after.lock() {
            *at = Some(now + (now - started) * PUBLISH_SHARE);
        }
    }

    /// Reads `/site` pages until the sweep ends or the slice is spent.
    async fn advance(
        &self,
        sweep: &mut Sweep,
        token: &crate::gridpane::Secret,
        started: Instant,
        bulk: &Fetched,
        publish: &Publish<'_>,
    ) -> Result<Vec<wire::Site>, ApiError> {
        let mut pages_this_poll = 0u32;
        self.publish_first(sweep, bulk, publish, false);
        loop {
            if sweep.complete.is_some() && pages_this_poll > 0 && started.elapsed() >= self.slice {
                tracing::debug!(
                    next_page = sweep.next_page,
                    "site sweep continues at the next poll"
                );
                break;
            }
            let page = sweep.next_page.max(1);
            // An error leaves the sweep where it is: the next poll retries
            // the same page.
            let (items, last, total) = self.client.sites_page(token, page).await?;
            pages_this_poll += 1;
            sweep.total = total.or(sweep.total);
            let before = sweep.seen.len();
            let fresh = !items.is_empty();
            for site in items {
                if !sweep.add(site) {
                    let limit = sweep.max_sites;
                    sweep.restart();
                    return Err(ApiError::TooManyItems {
                        endpoint: Endpoint::Sites,
                        limit,
                    });
                }
            }
            if fresh && sweep.seen.len() == before && page > 1 {
                // The same sites again: the upstream ignores `page`.
                sweep.restart();
                return Err(ApiError::Pagination {
                    endpoint: Endpoint::Sites,
                    pages: page,
                });
            }
            if last {
                sweep.complete(page, total);
                break;
            }
            if page >= self.client.max_pages() {
                sweep.restart();
                return Err(ApiError::Pagination {
                    endpoint: Endpoint::Sites,
                    pages: page,
                });
            }
            sweep.next_page = page + 1;
            self.publish_first(sweep, bulk, publish, true);
        }
        self.unconfirmed
            .store(sweep.unconfirmed(), Ordering::Relaxed);
        Ok(sweep.merged())
    }
}

impl Source for SweepingSource {
    async fn fetch(&self) -> Result<Fetched, ApiError> {
        self.fetch_publishing(&|_| {}).await
    }

    async fn fetch_publishing(&self, publish: &Publish<'_>) -> Result<Fetched, ApiError> {
        let started = Instant::now();
        // The token is read for this poll and dropped at its end.
        let token = self.token.load()?;
        let mut sweep = self.sweep.lock().await;
        // A first sweep publishes before the servers too: their pages can
        // take minutes on a large account.
        let mut fetched = super::fetch_bulk(&self.client, &token, |bulk| {
            self.publish_first(&sweep, bulk, publish, false)
        })
        .await?;
        let sites = self
            .advance(&mut sweep, &token, started, &fetched, publish)
            .await?;
        fetched.sites = sites;
        Ok(fetched)
    }

    fn take_tally(&self) -> RequestTally {
        self.client.take_tally()
    }

    fn unconfirmed_removals(&self) -> usize {
        self.unconfirmed.load(Ordering::Relaxed)
    }

    fn rate_limit_waits(
        &self,
    ) -> Option<tokio::sync::watch::Receiver<Option<crate::gridpane::RateLimitWait>>> {
        Some(self.client.rate_limit_waits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: u64) -> wire::Site {
        serde_json::from_value(serde_json::json!({"id": id, "url": format!("s{id}")})).unwrap()
    }

    fn sweep() -> Sweep {
        Sweep::new(0.5, 1000)
    }

    fn sweep_of(sweep: &mut Sweep, ids: &[u64], last_page: u32) -> Vec<u64> {
        sweep_with_total(sweep, ids, last_page, None)
    }

    fn sweep_with_total(
        sweep: &mut Sweep,
        ids: &[u64],
        last_page: u32,
        total: Option<u64>,
    ) -> Vec<u64> {
        for id in ids {
            assert!(sweep.add(site(*id)));
        }
        sweep.complete(last_page, total);
        sweep.merged().iter().map(|s| s.id).collect()
    }

    #[test]
    fn a_site_missing_from_a_multi_page_sweep_goes_only_when_the_next_confirms_it() {
        let mut sweep = sweep();
        assert_eq!(sweep_of(&mut sweep, &[1, 2, 3, 4], 2), vec![1, 2, 3, 4]);
        assert_eq!(
            sweep_of(&mut sweep, &[1, 2, 4], 2),
            vec![1, 2, 3, 4],
            "perhaps skipped by a page shift"
        );
        assert_eq!(
            sweep.unconfirmed(),
            0,
            "a routine hold is not a suspicious drop"
        );
        assert_eq!(sweep_of(&mut sweep, &[1, 2, 4], 2), vec![1, 2, 4]);
        assert_eq!(
            sweep_of(&mut sweep, &[1, 2, 4, 3], 2),
            vec![1, 2, 3, 4],
            "and may come back"
        );
    }

    #[test]
    fn the_sweep_in_progress_overrides_the_complete_list_and_the_result_stays_in_id_order() {
        let mut sweep = sweep();
        sweep_of(&mut sweep, &[2, 4, 6, 8], 1);
        for id in [1, 4, 5, 9] {
            let mut s = site(id);
            s.url = format!("new{id}");
            sweep.seen.insert(id, s);
        }
        let got: Vec<(u64, String)> = sweep.merged().into_iter().map(|s| (s.id, s.url)).collect();
        let want: Vec<(u64, String)> = [
            (1, "new1"),
            (2, "s2"),
            (4, "new4"),
            (5, "new5"),
            (6, "s6"),
            (8, "s8"),
            (9, "new9"),
        ]
        .into_iter()
        .map(|(id, url)| (id, url.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_one_page_sweep_removes_at_once() {
        let mut sweep = sweep();
        sweep_of(&mut sweep, &[1, 2, 3], 1);
        assert_eq!(sweep_of(&mut sweep, &[1, 3], 1), vec![1, 3]);
    }

    #[test]
    fn a_partial_sweep_adds_and_refreshes_but_never_removes() {
        let mut sweep = sweep();
        sweep_of(&mut sweep, &[1, 2, 3], 1);
        sweep.seen.insert(9, site(9));
        let ids: Vec<u64> = sweep.merged().iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 9]);
    }

    #[test]
    fn a_one_page_answer_listing_nothing_removes_nothing_until_the_next_sweep_confirms_it() {
        let mut sweep = sweep();
        sweep_of(&mut sweep, &[1, 2, 3], 1);
        assert_eq!(sweep_of(&mut sweep, &[], 1), vec![1, 2, 3]);
        assert_eq!(sweep.unconfirmed(), 3);
        assert_eq!(sweep_of(&mut sweep, &[], 1), Vec::<u64>::new());
        assert_eq!(sweep.unconfirmed(), 0);
    }

    #[test]
    fn a_drop_of_more_than_the_share_is_held_then_applied_when_confirmed() {
        let mut sweep = sweep();
        sweep_of(&mut sweep, &[1, 2, 3, 4], 1);
        assert_eq!(sweep_of(&mut sweep, &[1], 1), vec![1, 2, 3, 4]);
        assert_eq!(sweep.unconfirmed(), 3);
        assert_eq!(sweep_of(&mut sweep, &[1], 1), vec![1]);
        assert_eq!(sweep.unconfirmed(), 0);
    }

    #[test]
    fn a_held_drop_that_the_next_sweep_contradicts_removes_nothing() {
        let mut sweep = sweep();
        sweep_of(&mut sweep, &[1, 2, 3, 4], 1);
        sweep_of(&mut sweep, &[], 1);
        assert_eq!(sweep_of(&mut sweep, &[1, 2, 3, 4], 1), vec![1, 2, 3, 4]);
        assert_eq!(sweep.unconfirmed(), 0);
        assert_eq!(
            sweep_of(&mut sweep, &[], 1),
            vec![1, 2, 3, 4],
            "a new drop waits again"
        );
    }

    #[test]
    fn a_drop_within_the_share_is_applied_at_once() {
        let mut sweep = sweep();
        sweep_of(&mut sweep, &[1, 2, 3, 4], 1);
        assert_eq!(sweep_of(&mut sweep, &[1, 2], 1), vec![1, 2]);
        assert_eq!(sweep.unconfirmed(), 0);
    }

    #[test]
    fn a_sweep_that_disagrees_with_its_meta_total_removes_nothing_yet() {
        let mut sweep = sweep();
        sweep_of(&mut sweep, &[1, 2, 3, 4], 1);
        assert_eq!(
            sweep_with_total(&mut sweep, &[1, 2, 3], 1, Some(4)),
            vec![1, 2, 3, 4]
        );
        assert_eq!(sweep.unconfirmed(), 1);
        assert_eq!(
            sweep_with_total(&mut sweep, &[1, 2, 3], 1, Some(3)),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn with_a_share_of_one_only_an_empty_answer_is_held() {
        let mut sweep = Sweep::new(1.0, 1000);
        sweep_of(&mut sweep, &[1, 2, 3, 4], 1);
        assert_eq!(sweep_of(&mut sweep, &[1], 1), vec![1]);
        assert_eq!(sweep_of(&mut sweep, &[], 1), vec![1]);
    }

    #[test]
    fn the_complete_list_and_the_sweep_in_progress_never_hold_more_sites_than_the_cap() {
        let mut sweep = Sweep::new(0.5, 3);
        sweep_of(&mut sweep, &[1, 2, 3], 1);
        assert!(sweep.add(site(2)), "a known site is no growth");
        assert!(!sweep.add(site(4)), "a fourth site would pass the cap");
        assert_eq!(sweep.merged().len(), 3);
        sweep.restart();
        assert!(sweep.add(site(1)));
        assert!(!sweep.add(site(9)));
    }
}
