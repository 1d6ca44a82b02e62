//! gridpane-backup-exporter: watches the backups of WordPress sites hosted on
//! GridPane and tells Prometheus when a site is no longer protected.
//!
//! Data flows one way:
//! GridPane API -> [`gridpane`] client -> [`poller`] (one per account) ->
//! immutable [`domain`] snapshot in the [`store`] -> [`render`]ers -> [`http`].

pub mod app;
pub mod bucket;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
#[cfg(feature = "demo")]
pub mod fake;
pub mod gridpane;
pub mod healthcheck;
pub mod http;
pub mod inspect;
pub mod judge;
pub mod logging;
pub mod persist;
pub mod poller;
pub mod probe;
pub mod render;
pub mod server;
pub mod store;
