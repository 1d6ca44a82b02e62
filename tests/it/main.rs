//! Every integration suite in one test binary: one link after a source
//! change instead of one per suite. Each module is a former `tests/*.rs`
//! file; run one with `cargo test --test it <module>::` (for example
//! `cargo test --test it api::`).
//!
//! The suites share a process: nothing here may set environment variables,
//! install a global tracing subscriber, or assume a fresh process-wide
//! counter (compare against a value read before, as `persist::` does).

mod support;

mod access;
mod alerts;
mod api;
mod blind_spots;
mod browser;
mod bucket;
mod bucket_verdict;
mod budget;
mod client;
mod config;
mod config_check;
mod dashboards;
mod decoders;
mod deploy;
mod e2e_prometheus;
mod exporter;
mod fake_server;
mod faults;
mod hostile_names;
mod inspect_bucket;
mod mutes;
mod notifications;
mod persist;
mod poller;
mod probe;
mod reload;
mod render_cache;
mod security;
mod site_page;
mod status_page;
mod unknown;

/// A suite file left out of the list above would compile into nothing and
/// its tests would silently never run; one put in `tests/` directly would be
/// a binary of its own again.
#[test]
fn every_suite_file_is_a_module_of_this_binary() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(tests.join("it/main.rs")).unwrap();
    for dir in [tests.clone(), tests.join("it")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if path.extension().is_none_or(|e| e != "rs") || stem == "main" {
                continue;
            }
            assert!(
                dir.ends_with("it"),
                "{} is a test binary of its own: move it to tests/it/ and declare it in tests/it/main.rs",
                path.display()
            );
            assert!(
                main.lines().any(|l| l == format!("mod {stem};")),
                "{} is not declared in tests/it/main.rs, so its tests never run",
                path.display()
            );
        }
    }
}
