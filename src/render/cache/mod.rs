//! Every cache the surfaces serve from, in one room: what a scrape or a
//! request would otherwise render again, kept while it is still what a
//! fresh render would give (the same snapshots, compared by address, and
//! no next run come since). [`exposition`]: the snapshot part of
//! `/metrics` and its gzip form; [`scoped`]: that part per set of
//! permitted accounts; [`answers`]: the JSON API's list answers, shared
//! and held under one memory budget. They hold what the renderers made;
//! none judges or renders anything of its own.

pub(crate) mod answers;
pub mod exposition;
pub(crate) mod scoped;

pub(crate) use answers::{AnswerKey, DEFAULT_ANSWER_BYTES, SharedAnswers};
pub use exposition::{CachedSnapshot, ExpositionCache};
pub(crate) use scoped::Expositions;
