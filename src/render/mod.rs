//! Renderers: they read snapshots from the store and turn them into what a
//! reader wants. They never call GridPane.

pub mod api;
pub mod detail;
mod family;
pub mod metrics;
pub mod status_page;
