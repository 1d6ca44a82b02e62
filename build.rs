//! Records the git revision for `--version` and `gridpane_exporter_build_info`.
use std::process::Command;

fn main() {
    let revision = std::env::var("GIT_REVISION").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
    });
    println!(
        "cargo:rustc-env=GRIDPANE_EXPORTER_REVISION={}",
        revision
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "unknown".into())
    );
    println!("cargo:rerun-if-env-changed=GIT_REVISION");
    for path in [".git/HEAD", ".git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
