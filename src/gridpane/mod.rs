//! The GridPane API client: one fetch per route and pagination
//! (`client.rs`), each GET with its auth, retries and errors
//! (`client/transport.rs`), the rate-limit headers (`client/rate_limit.rs`)
//! and lenient decoding (`client/decode.rs`, `wire.rs`, `lenient.rs`); the
//! request budget, the backup record's reader. It knows nothing about
//! metrics or the domain's snapshot (the poller builds that from the wire
//! types); it reports what it did as a [`RequestTally`] that the poller
//! reads, and its waits for GridPane's rate limit as they happen
//! ([`Client::rate_limit_waits`]). Why a backup record is unreadable is the
//! domain's code ([`history::Unreadable`]), which the verdict keeps.

pub mod budget;
mod client;
mod endpoint;
mod error;
pub mod history;
pub(crate) mod lenient;
pub mod record;
mod secret;
pub mod shape;
mod wait;
pub mod wire;

pub use budget::{Budget, BudgetOptions};
pub use client::{Client, ClientOptions, RequestTally, Sleeper, decode, http_client};
pub use endpoint::Endpoint;
pub use error::ApiError;
pub use lenient::Field;
pub use secret::{ExposeSecret, Secret};
pub use wait::RateLimitWait;
