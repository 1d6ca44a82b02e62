//! Sites known while the first `/site` sweep of an account runs.
//!
//! `/backups/schedules` lists every site that has a schedule (its id, URL,
//! server and schedule rows) in one request, long before a large fleet's
//! `/site` pages are all read. A site of that list whose `/site` record has
//! not been read yet is *pending* ([`super::Site::pending`]; the poller
//! builds such snapshots): what the schedule rows prove on their own (no
//! local row, no remote row, a remote row pointing at a deleted
//! integration) is judged at once, and everything that needs the record
//! (the on/off flags, retention) is held back, so that no surface calls a
//! pending site OK or its schedule on.

use super::snapshot::AccountSnapshot;

/// How many sites of a snapshot are pending.
pub(crate) fn pending_sites(snapshot: &AccountSnapshot) -> usize {
    snapshot.sites.iter().filter(|s| s.pending).count()
}
