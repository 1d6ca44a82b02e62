//! `gridpane-backup-exporter probe ...`: the flags turned into one run (or
//! a server), and exit codes: 0 once the textfile is written (whether every
//! input was read is `gridpane_probe_success` in it), 1 when it cannot be
//! written, 2 for a usage error (a textfile directory inside the GridPane
//! folder, an address that cannot be listened on).

use std::process::ExitCode;

use crate::cli::{self, ProbeArgs};
use crate::logging;

use super::{Inputs, run_textfile, serve, textfile};

/// Runs `probe` as its flags say.
pub fn run(args: &ProbeArgs) -> ExitCode {
    logging::init(args.log_level, args.log_format);
    let inputs = Inputs {
        gridpane_dir: args.gridpane_dir.clone(),
        uuid_file: args.uuid_file.clone(),
    };
    if let Some(dir) = &args.textfile_directory {
        return match run_textfile(&inputs, dir) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e @ textfile::WriteError::InsideGridPane { .. }) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let raw = args.listen_address.as_deref().unwrap_or_default();
    let addr = match cli::parse_listen_address(raw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(2);
            }
        };
        tracing::info!(%addr, "probe serving /metrics");
        match serve::run(listener, inputs, stop_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
