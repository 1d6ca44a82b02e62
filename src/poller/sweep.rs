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
//! one. The first sweep (nothing complete yet) runs to its end in one poll.
//!
//! Pages can shift under a sweep of several pages (a site deleted on page 1
//! while page 5 is being read moves every later site one place up), so a
//! site that such a sweep did not list may merely have been skipped. It is
//! removed when the next complete sweep does not list it either. A
//! one-page sweep is a single answer and removes at once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::config::TokenSource;
use crate::gridpane::{ApiError, Client, Endpoint, RequestTally, wire};
use crate::model::Fetched;

use super::Source;

#[derive(Default)]
struct Sweep {
    /// The last complete site list, by id.
    complete: Option<BTreeMap<u64, wire::Site>>,
    /// The next page to read.
    next_page: u32,
    /// Sites read by the sweep in progress.
    seen: BTreeMap<u64, wire::Site>,
    /// Sites the last complete sweep (of several pages) did not list but
    /// kept: the next one removes them if it does not list them either.
    missing_once: HashSet<u64>,
}

impl Sweep {
    fn restart(&mut self) {
        self.next_page = 1;
        self.seen.clear();
    }

    /// The sweep ended on page `last_page`: its sites become the complete
    /// list, except that sites missing from a multi-page sweep for the first
    /// time are kept one sweep longer.
    fn complete(&mut self, last_page: u32) {
        let mut done = std::mem::take(&mut self.seen);
        let mut strikes = HashSet::new();
        if last_page > 1 {
            if let Some(previous) = &self.complete {
                for (id, site) in previous {
                    if !done.contains_key(id) && !self.missing_once.contains(id) {
                        strikes.insert(*id);
                        done.insert(*id, site.clone());
                    }
                }
            }
        }
        self.missing_once = strikes;
        self.complete = Some(done);
        self.restart();
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

/// Where the sweep is, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepProgress {
    /// A complete site list exists.
    pub complete: bool,
    /// The next page the sweep will read (1 when a new sweep starts).
    pub next_page: u32,
}

/// The account's client and token, and the `/site` sweep in progress.
pub struct SweepingSource {
    client: Arc<Client>,
    token: TokenSource,
    slice: Duration,
    sweep: tokio::sync::Mutex<Sweep>,
}

impl SweepingSource {
    /// `slice`: how long one poll may spend on `/site` pages once a complete
    /// list exists (the poll interval in production).
    pub fn new(client: Arc<Client>, token: TokenSource, slice: Duration) -> Self {
        SweepingSource {
            client,
            token,
            slice,
            sweep: tokio::sync::Mutex::new(Sweep {
                next_page: 1,
                ..Sweep::default()
            }),
        }
    }

    pub async fn progress(&self) -> SweepProgress {
        let sweep = self.sweep.lock().await;
        SweepProgress {
            complete: sweep.complete.is_some(),
            next_page: sweep.next_page,
        }
    }

    /// Reads `/site` pages until the sweep ends or the slice is spent.
    async fn advance(
        &self,
        token: &crate::config::Secret,
        started: tokio::time::Instant,
    ) -> Result<Vec<wire::Site>, ApiError> {
        let mut sweep = self.sweep.lock().await;
        let mut pages_this_poll = 0u32;
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
            let (items, last) = self.client.sites_page(token, page).await?;
            pages_this_poll += 1;
            let before = sweep.seen.len();
            let fresh = !items.is_empty();
            for site in items {
                sweep.seen.insert(site.id, site);
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
                sweep.complete(page);
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
        }
        Ok(sweep.merged())
    }
}

impl Source for SweepingSource {
    async fn fetch(&self) -> Result<Fetched, ApiError> {
        let started = tokio::time::Instant::now();
        // The token is read for this poll and dropped at its end.
        let token = self.token.load()?;
        let mut fetched = super::fetch_bulk(&self.client, &token).await?;
        fetched.sites = self.advance(&token, started).await?;
        Ok(fetched)
    }

    fn take_tally(&self) -> RequestTally {
        self.client.take_tally()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: u64) -> wire::Site {
        serde_json::from_value(serde_json::json!({"id": id, "url": format!("s{id}")})).unwrap()
    }

    fn sweep_of(sweep: &mut Sweep, ids: &[u64], last_page: u32) -> Vec<u64> {
        for id in ids {
            sweep.seen.insert(*id, site(*id));
        }
        sweep.complete(last_page);
        sweep.merged().iter().map(|s| s.id).collect()
    }

    #[test]
    fn a_site_missing_from_a_multi_page_sweep_goes_only_when_the_next_confirms_it() {
        let mut sweep = Sweep::default();
        assert_eq!(sweep_of(&mut sweep, &[1, 2, 3, 4], 2), vec![1, 2, 3, 4]);
        assert_eq!(
            sweep_of(&mut sweep, &[1, 2, 4], 2),
            vec![1, 2, 3, 4],
            "perhaps skipped by a page shift"
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
        let mut sweep = Sweep::default();
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
        let mut sweep = Sweep::default();
        sweep_of(&mut sweep, &[1, 2, 3], 1);
        assert_eq!(sweep_of(&mut sweep, &[1, 3], 1), vec![1, 3]);
    }

    #[test]
    fn a_partial_sweep_adds_and_refreshes_but_never_removes() {
        let mut sweep = Sweep::default();
        sweep_of(&mut sweep, &[1, 2, 3], 1);
        sweep.seen.insert(9, site(9));
        let ids: Vec<u64> = sweep.merged().iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 9]);
    }
}
