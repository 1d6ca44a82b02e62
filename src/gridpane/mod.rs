//! The GridPane API client: HTTP, auth, pagination, retries and lenient
//! decoding. It knows nothing about metrics; it reports what it did as a
//! [`RequestTally`] that the poller reads.

pub mod budget;
mod client;
mod endpoint;
mod error;
pub mod history;
pub(crate) mod lenient;
pub mod record;
mod secret;
pub mod shape;
pub mod wire;

pub use budget::{Budget, BudgetOptions};
pub use client::{Client, ClientOptions, RequestTally, Sleeper, decode, http_client};
pub use endpoint::Endpoint;
pub use error::ApiError;
pub use lenient::Field;
pub use secret::{ExposeSecret, Secret};
