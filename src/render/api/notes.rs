//! What an account's state says beyond "the last poll succeeded or failed",
//! for the status page and `/api/v1/status` alike: the account has never
//! been read (critical after a bounded time), sites are held back after a
//! sharp drop of GridPane's site list, a poll waits for GridPane's rate
//! limit, and a failed poll that newer data has superseded.

use serde::Serialize;

use super::{from_unix, rfc3339};
use crate::store::{AccountState, NeverPolled, RateLimitWait};

/// The last poll failed, but the data served is newer than the failure (a
/// later poll has published its first sweep's pages since).
pub(crate) fn failure_superseded(state: &AccountState) -> bool {
    match (&state.last_poll, &state.snapshot) {
        (Some(p), Some(snap)) => p.error.is_some() && snap.fetched_at > p.finished_at,
        _ => false,
    }
}

/// Sites held back after a sharp drop, and since when.
pub(crate) fn held_back(state: &AccountState) -> Option<(usize, Option<f64>)> {
    (state.unconfirmed_removals > 0)
        .then_some((state.unconfirmed_removals, state.unconfirmed_since))
}

/// A unix time in both of the API's forms: RFC 3339 and unix seconds.
fn both(secs: Option<f64>) -> (Option<String>, Option<i64>) {
    let t = secs.and_then(from_unix);
    (t.map(rfc3339), t.map(|t| t.timestamp()))
}

/// `never_polled*` of an account in `/api/v1/status`.
#[derive(Debug, Serialize)]
pub struct NeverPolledEntry {
    /// No poll of the account has succeeded and no saved state was loaded:
    /// nothing is known about its sites.
    pub never_polled: bool,
    /// When the exporter began polling it, while `never_polled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub never_polled_since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub never_polled_since_unix: Option<i64>,
    /// While `never_polled`: true once it has lasted 15 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub never_polled_critical: Option<bool>,
}

impl NeverPolledEntry {
    fn of(never: Option<NeverPolled>) -> Self {
        let (since, since_unix) = both(never.and_then(|n| n.since));
        NeverPolledEntry {
            never_polled: never.is_some(),
            never_polled_since: since,
            never_polled_since_unix: since_unix,
            never_polled_critical: never.map(|n| n.critical),
        }
    }
}

/// `unconfirmed_removals` of an account in `/api/v1/status`.
#[derive(Debug, Serialize)]
pub struct HeldBackEntry {
    /// Sites still served that the last complete site list left out.
    pub sites: usize,
    /// The poll that began holding them back.
    pub since: Option<String>,
    pub since_unix: Option<i64>,
}

/// `rate_limit_wait` of an account in `/api/v1/status`.
#[derive(Debug, Serialize)]
pub struct WaitEntry {
    /// The endpoint (route template) whose request waits.
    pub endpoint: &'static str,
    /// GridPane answered 429 (`true`), or its counts said its window is
    /// spent (`false`).
    pub rate_limited: bool,
    pub since: Option<String>,
    pub since_unix: Option<i64>,
    pub until: Option<String>,
    pub until_unix: Option<i64>,
}

impl WaitEntry {
    fn of(w: &RateLimitWait) -> Self {
        let ((since, since_unix), (until, until_unix)) = (both(Some(w.since)), both(Some(w.until)));
        WaitEntry {
            endpoint: w.endpoint,
            rate_limited: w.rate_limited,
            since,
            since_unix,
            until,
            until_unix,
        }
    }
}

/// The fields an account's entry in `/api/v1/status` gains from its notes.
#[derive(Debug, Serialize)]
pub struct AccountNotes {
    #[serde(flatten)]
    pub never_polled: NeverPolledEntry,
    /// Present while sites are held back after a sharp drop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unconfirmed_removals: Option<HeldBackEntry>,
    /// Present while a poll waits for GridPane's rate limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_wait: Option<WaitEntry>,
    /// Present (true) when the last poll failed but the data served is newer
    /// than the failure.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failure_superseded: bool,
}

impl AccountNotes {
    pub(crate) fn of(state: &AccountState, now_unix: f64) -> Self {
        AccountNotes {
            never_polled: NeverPolledEntry::of(state.never_polled(now_unix)),
            unconfirmed_removals: held_back(state).map(|(sites, since)| {
                let (since, since_unix) = both(since);
                HeldBackEntry {
                    sites,
                    since,
                    since_unix,
                }
            }),
            rate_limit_wait: state.rate_limit_wait.as_ref().map(WaitEntry::of),
            failure_superseded: failure_superseded(state),
        }
    }
}
