//! The GridPane API client: HTTP, auth, pagination, retries and lenient
//! decoding. It knows nothing about metrics; it reports what it did as a
//! [`RequestTally`] that the poller reads, and its waits for GridPane's rate
//! limit as they happen ([`Client::rate_limit_waits`]).

pub mod budget;
mod client;
mod endpoint;
mod error;
pub mod history;
pub(crate) mod lenient;
mod secret;
pub mod shape;
mod wait;
pub mod wire;

pub use budget::{Budget, BudgetOptions};
pub use client::{Client, ClientOptions, RequestTally, Sleeper, decode, http_client};
pub use endpoint::Endpoint;
pub use error::ApiError;
pub use secret::{ExposeSecret, Secret};
pub use wait::RateLimitWait;
