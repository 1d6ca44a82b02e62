//! The proof from the bucket: each site's remote backups found in the
//! agency's own storage. GridPane's engine (Duplicacy) writes each finished
//! backup of a site as an object `snapshots/<snapshot id>/<revision>` in
//! the server's bucket; one listing of `snapshots/` shows every site of the
//! server with its newest revision.
//!
//! Two halves. Below the domain, plain values the assessment reads, as the
//! snapshot reads the client's wire types: what a listing found
//! ([`index`]) and which site a snapshot id belongs to ([`matching`]).
//! Above the store, like the poller: one S3 request ([`client`], rusty-s3
//! over the process's reqwest), one bucket listed in full, paced and
//! bounded ([`listing`]), and the task per account that lists its buckets
//! on its own interval and publishes what it found ([`lister`]). It never
//! calls GridPane, and a scrape never waits for it.

pub mod client;
pub mod index;
pub mod lister;
pub mod listing;
pub mod matching;
mod page;

pub use client::{Keys, ListError};
pub use index::{
    BucketEvidence, BucketListing, IntegrationRef, ListOutcome, Revisions, StorageEvidence,
};
pub use listing::{Limits, Listed, PREFIX};
pub use matching::{Match, Matcher, candidates};
