use std::process::ExitCode;

use anyhow::Context as _;
use chrono::Offset as _;
use gridpane_backup_exporter::app::{self, App, AppError, Hangups, Reload, WebOptions};
use gridpane_backup_exporter::cli::{self, Cli, Command, HealthcheckArgs, InspectArgs};
use gridpane_backup_exporter::config::web as web_config;
use gridpane_backup_exporter::config::{self, ConfigWarning, Sources};
use gridpane_backup_exporter::server::{Limits, ServerOptions};
use gridpane_backup_exporter::{demo, healthcheck, inspect, logging};

fn main() -> ExitCode {
    catch_early_hangups();
    pin_malloc_mmap_threshold();
    let cli = match Cli::try_parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match &cli.command {
        Some(Command::Healthcheck(args)) => return healthcheck(args),
        Some(Command::Inspect(args)) => return inspect(args),
        Some(Command::Probe(args)) => return gridpane_backup_exporter::probe::command::run(args),
        None => {}
    }
    logging::init(cli.log_level, cli.log_format);
    // Listen for SIGHUP before anything slow (loading the state file,
    // binding, building clients), so that a `systemctl reload` racing the
    // start is kept and applied once started.
    let serving = if cli.config_check {
        None
    } else {
        match runtime(tokio::runtime::Builder::new_multi_thread()) {
            Ok(r) => {
                let hangups = {
                    let _entered = r.enter();
                    Hangups::listen(early_hangup())
                };
                Some((r, hangups))
            }
            Err(code) => return code,
        }
    };
    raise_open_file_limit();

    let (config, warnings) = if cli.demo {
        (None, Vec::new())
    } else {
        match config::load_with_warnings(&Sources::from_process(cli.config_file.clone())) {
            Ok(loaded) => (Some(loaded.config), loaded.warnings),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let web_config = match &cli.web_config_file {
        None => None,
        Some(path) => match web_config::load(path) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    // What start warns about beyond the file: the same list, printed by the
    // check and logged at start.
    let start_warnings = config
        .as_ref()
        .map(|c| config::preflight::start_warnings(c, web_config.as_ref()))
        .unwrap_or_default();
    if let Err(e) = cli::check_telemetry_path(&cli.telemetry_path) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let listen = match cli::parse_listen_address(&cli.listen_address) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.config_check {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        for w in &start_warnings {
            eprintln!("warning: {w}");
        }
        if let Some(w) = &web_config {
            println!("{}", w.summary());
        }
        match &config {
            Some(c) => {
                println!(
                    "configuration OK: {} account(s), poll interval {}",
                    c.accounts.len(),
                    humantime::format_duration(c.poll.interval)
                );
                for a in &c.accounts {
                    println!("  account {:?}: {}", a.name, a.base_url);
                }
                for line in config::preflight::summary(c) {
                    println!("{line}");
                }
                for a in &c.accounts {
                    for e in &a.remote_storage {
                        let listing = &c.poll.remote_storage;
                        println!("{}", config::remote_storage::summary(&a.name, e, listing));
                    }
                }
                let p = &c.policy;
                println!(
                    "policy: minimum retention {} days, longest interval {}, remote backups {}, overdue after {} periods + {}, record read at most {} ago, {} group(s), {} mute(s)",
                    p.rules.min_retention_days,
                    humantime::format_duration(p.rules.max_interval),
                    if p.rules.require_remote {
                        "required"
                    } else {
                        "not required"
                    },
                    p.rules.overdue_after,
                    humantime::format_duration(p.rules.overdue_grace),
                    humantime::format_duration(p.rules.record_max_age),
                    p.groups.len(),
                    p.mutes.len()
                );
            }
            None => println!("{}", demo::summary()),
        }
        println!("web: listen on {listen}, metrics at {}", cli.telemetry_path);
        return ExitCode::SUCCESS;
    }

    let Some((runtime, hangups)) = serving else {
        return ExitCode::SUCCESS;
    };
    let web = WebOptions {
        listen,
        telemetry_path: cli.telemetry_path.clone(),
        disable_exposition_cache: cli.disable_exposition_cache,
    };
    let server = ServerOptions {
        web_config,
        limits: Limits {
            max_connections: cli.max_connections as usize,
            header_read_timeout: cli.header_read_timeout,
            max_api_answer_bytes: cli.max_api_answer_bytes,
            ..Limits::default()
        },
    };
    let sources = Sources::from_process(cli.config_file.clone());
    match runtime.block_on(run(
        config,
        sources,
        &warnings,
        &start_warnings,
        web,
        server,
        hangups,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<AppError>() {
            // Like a bad flag: one line naming the address, exit 2.
            Some(AppError::Bind { addr, source }) => {
                eprintln!("error: {}", bind_error(*addr, source));
                ExitCode::from(2)
            }
            // Its message already holds its cause: print it once.
            Some(other) => {
                eprintln!("error: {other}");
                ExitCode::FAILURE
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Why the listening socket could not be opened, and what to do.
fn bind_error(addr: std::net::SocketAddr, source: &std::io::Error) -> String {
    let why = match source.kind() {
        std::io::ErrorKind::AddrInUse => {
            "the address is already in use (another process holds the port)".to_string()
        }
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_string()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "no interface of this machine has that address".to_string()
        }
        _ => source.to_string(),
    };
    format!("cannot listen on {addr}: {why}; choose another with --web.listen-address")
}

/// Exit 0 if the exporter answers `/-/healthy` with 200, else 1 (Docker
/// reserves 2).
fn healthcheck(args: &HealthcheckArgs) -> ExitCode {
    let tls = match &args.web_config_file {
        None => Ok(false),
        Some(path) => web_config::load(path)
            .map(|c| c.tls.is_some())
            .map_err(|e| e.to_string()),
    };
    let result = tls.and_then(|tls| {
        cli::parse_listen_address(&args.listen_address).and_then(|listen| {
            healthcheck::check(healthcheck::probe_target(listen), tls, args.timeout)
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The runtime `builder` makes, with every driver; on failure, says so and
/// gives the exit code.
fn runtime(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

/// `inspect`: prints the redacted shapes, or with `--remote-storage` the
/// look at a bucket; exit 2 on a configuration error, 1 when a bucket
/// cannot be listed.
fn inspect(args: &InspectArgs) -> ExitCode {
    logging::init(cli::LogLevel::Error, cli::LogFormat::Logfmt);
    let sources = Sources::from_process(args.config_file.clone());
    let prepared = config::load_with_warnings(&sources)
        .map_err(|e| e.to_string())
        .and_then(|loaded| {
            let (account, entry) = match &args.remote_storage {
                Some(name) => {
                    let (account, entry) =
                        inspect::remote_storage(&loaded.config, args.account.as_deref(), name)
                            .map_err(|e| e.to_string())?;
                    (account.clone(), Some(entry.clone()))
                }
                None => (
                    inspect::account(&loaded.config, args.account.as_deref())
                        .map_err(|e| e.to_string())?
                        .clone(),
                    None,
                ),
            };
            let client = inspect::client(&loaded.config, &account).map_err(|e| e.to_string())?;
            let token = account.token.load().map_err(|e| e.to_string())?;
            Ok((loaded.config, account, entry, client, token))
        });
    let (config, account, entry, client, token) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(entry) = entry {
        let look = runtime.block_on(inspect::look_at_buckets(
            &config, &account, &entry, &client, &token,
        ));
        return match look {
            Ok(look) => {
                print!("{}", look.report);
                if look.ok {
                    ExitCode::SUCCESS
                } else {
                    eprintln!(
                        "error: a bucket could not be listed or the sites could not be read (see above)"
                    );
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = inspect::InspectOptions {
        site: args.site,
        refresh: args.refresh,
    };
    let offset = account.time_zone.unwrap_or_else(|| chrono::Utc.fix());
    let report = runtime.block_on(inspect::run(
        &client,
        &token,
        offset,
        &opts,
        config.poll.per_page,
    ));
    print!("{report}");
    ExitCode::SUCCESS
}

async fn run(
    config: Option<config::Config>,
    sources: Sources,
    warnings: &[ConfigWarning],
    start_warnings: &[config::preflight::StartWarning],
    web: WebOptions,
    server: ServerOptions,
    hangups: Hangups,
) -> anyhow::Result<()> {
    // The fake GridPane of --demo lives as long as the exporter.
    let (fake, config) = match config {
        Some(c) => (None, c),
        None => {
            let (fake, c) = demo::start().await.context("starting the demo GridPane")?;
            (Some(fake), c)
        }
    };
    for w in warnings {
        w.log();
    }
    for w in start_warnings {
        w.log();
    }
    if let Some(w) = &server.web_config {
        tracing::info!(summary = %w.summary(), "web config loaded");
    }
    let tls = server.web_config.as_ref().is_some_and(|w| w.tls.is_some());
    let mut app = App::start_with(config.clone(), web, server).await?;
    if fake.is_none() {
        let reload = Reload::new(sources, config, &app);
        app.reload_on_sighup(reload, hangups);
    } else {
        // The handler stays installed for the life of the process: a
        // SIGHUP is ignored, as --demo has no configuration file to reload.
        drop(hangups);
    }
    if fake.is_some() {
        let scheme = if tls { "https" } else { "http" };
        let target = healthcheck::probe_target(app.addr);
        println!("{}", demo::banner(&format!("{scheme}://{target}/")));
    }
    app::stop_signal().await;
    tracing::info!("stop signal received, shutting down");
    app.shutdown().await;
    Ok(())
}

/// Set by the SIGHUP handler [`catch_early_hangups`] installs.
#[cfg(unix)]
static EARLY_HANGUP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// SIGHUP ends a process by default, and a `systemctl reload` can race the
/// start: a handler that only notes the signal is installed first thing,
/// before the runtime and tokio's own handler exist.
#[cfg(unix)]
fn catch_early_hangups() {
    // SAFETY: the action only stores to an atomic, which is
    // async-signal-safe; it runs first thing in main.
    let installed = unsafe {
        signal_hook_registry::register(libc::SIGHUP, || {
            EARLY_HANGUP.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    if let Err(e) = installed {
        eprintln!("warning: cannot catch SIGHUP at start: {e}");
    }
}

#[cfg(not(unix))]
fn catch_early_hangups() {}

/// Whether a SIGHUP came before tokio listened for it.
#[cfg(unix)]
fn early_hangup() -> bool {
    EARLY_HANGUP.swap(false, std::sync::atomic::Ordering::SeqCst)
}

#[cfg(not(unix))]
fn early_hangup() -> bool {
    false
}

/// glibc raises its mmap threshold (up to 32 MiB) each time a large block is
/// freed, so later blocks of that size come from arenas that keep them after
/// they are freed. Each poll frees its API bodies and each render the last
/// exposition: at 10k sites that kept RSS climbing past 70 MiB instead of
/// about 40 (docs/performance.md). Pinning the threshold at glibc's default
/// (128 KiB) hands large blocks back to the system when freed. A value set
/// through the environment wins. mimalloc as the global allocator instead
/// served scrapes somewhat faster but held about twice the memory at 10k
/// sites (docs/performance.md, "Allocator"), so glibc stays.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn pin_malloc_mmap_threshold() {
    use std::ffi::c_int;
    const M_MMAP_THRESHOLD: c_int = -3;
    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var_os("GLIBC_TUNABLES").is_some()
    {
        return;
    }
    // SAFETY: mallopt only sets a parameter of glibc's allocator; it runs
    // first thing in main, before any other thread exists.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn pin_malloc_mmap_threshold() {}

/// Raises the soft limit on open files to the hard limit, as Go programs do
/// at start: every account keeps a connection to GridPane, and the common
/// soft limit of 1024 is too low for a thousand accounts, while the hard
/// limit (often 524288 or more) is not. Kubernetes has no per-pod setting
/// for it (docs/operations.md).
fn raise_open_file_limit() {
    // An unlimited hard limit is capped at the kernel's usual `nr_open`.
    match rlimit::increase_nofile_limit(1 << 20) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
}
