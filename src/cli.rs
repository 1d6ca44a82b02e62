//! Command-line flags, named as the Prometheus exporter toolkit names them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};

mod probe;
pub use probe::ProbeArgs;

pub(crate) const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("GRIDPANE_BACKUP_EXPORTER_REVISION"),
    ")"
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

/// Where `--web.listen-address` points by default: every interface.
pub(crate) const DEFAULT_LISTEN_ADDRESS: &str = ":9878";
/// Where `--demo` listens when `--web.listen-address` is not given: this
/// machine only.
pub(crate) const DEMO_LISTEN_ADDRESS: &str = "127.0.0.1:9878";

const AFTER_HELP: &str = "\
With no accounts configured, one account named \"default\" comes from the environment:
  GRIDPANE_API_TOKEN        the GridPane API token (Settings > GridPane API)
  GRIDPANE_API_TOKEN_FILE   or a file holding it, read again at every poll
  GRIDPANE_API_URL          the host of an agency instance (default https://my.gridpane.com)
Config keys can be overridden with GRIDPANE_EXPORTER_<KEY>, nested with __.

Docs, in the source tree: README.md (quick start, configuration reference),
docs/operations.md (running it, errors), docs/metrics.md, docs/api.md.";

/// Prometheus exporter for the backup schedules of WordPress sites on GridPane.
#[derive(Debug, Parser)]
#[command(
    name = "gridpane-backup-exporter",
    version = LONG_VERSION,
    about,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// YAML configuration file (accounts, poll settings, state file).
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Validate the configuration and the --web.* flags, print a summary and
    /// any warnings, and exit (2 on an error).
    #[arg(long = "config.check")]
    pub config_check: bool,

    /// Address to listen on; ":9878" means every interface. With --demo
    /// and no address given: 127.0.0.1:9878, this machine only.
    #[arg(
        long = "web.listen-address",
        value_name = "ADDR",
        default_value = DEFAULT_LISTEN_ADDRESS
    )]
    pub listen_address: String,

    /// Web configuration (exporter-toolkit format): TLS and basic auth.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// Connections served at once. When all are taken, a new connection
    /// takes the slot of the one that has waited longest for a request.
    #[arg(long = "web.max-connections", value_name = "N", default_value_t = 128,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// A client must send a whole request head within this long; also how
    /// long an idle keep-alive connection is kept.
    #[arg(long = "web.header-read-timeout", value_name = "DURATION", default_value = "10s",
        value_parser = positive_duration)]
    pub header_read_timeout: Duration,

    /// Memory the JSON API's list answers may hold at once, cached or still
    /// being sent (suffix KiB, MiB or GiB); beyond it they answer 503.
    #[arg(long = "web.max-api-answer-bytes", value_name = "BYTES", default_value = "64MiB",
        value_parser = parse_bytes)]
    pub max_api_answer_bytes: usize,

    /// Render the whole exposition on every scrape instead of serving the
    /// cached snapshot part: a baseline for benchmarks, not for production.
    #[arg(long = "web.disable-exposition-cache", hide = true)]
    pub disable_exposition_cache: bool,

    /// Only log messages of this level or above.
    #[arg(long = "log.level", value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,

    /// Run against a built-in fake GridPane with a generated fleet: no token needed.
    #[arg(long)]
    pub demo: bool,
}

impl Cli {
    /// Parses the arguments like [`Parser::try_parse_from`]; the demo then
    /// listens on loopback unless `--web.listen-address` was given.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if cli.demo && matches.value_source("listen_address") == Some(ValueSource::DefaultValue) {
            cli.listen_address = DEMO_LISTEN_ADDRESS.to_string();
        }
        Ok(cli)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask a running exporter for /-/healthy over loopback; exit 0 if it
    /// answers 200, else 1. For container health checks: needs no shell.
    Healthcheck(HealthcheckArgs),
    /// Call GridPane's read-only endpoints once (the bulk ones, and the
    /// per-site ones for one site) and print each answer's shape with every
    /// value redacted, and what the backup record reader found in it: safe
    /// to paste into an issue. With --remote-storage NAME, a look at that
    /// entry's buckets instead.
    Inspect(InspectArgs),
    /// Run on a GridPane server: read its local backups and its
    /// backups.monitoring.log (never writing under the GridPane folder) and
    /// write them for node_exporter's textfile collector, or serve them.
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The exporter's configuration file (accounts, poll settings); without
    /// it, GRIDPANE_API_TOKEN or GRIDPANE_API_TOKEN_FILE as for the exporter.
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// The account to inspect (default: the first configured).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,

    /// The site whose per-site endpoints are read (default: the first one
    /// /site lists).
    #[arg(long, value_name = "ID")]
    pub site: Option<u64>,

    /// Also call /backups/refresh/{id} first: GridPane then has the site's
    /// server re-list its backups (work on that server).
    #[arg(long)]
    pub refresh: bool,

    /// Instead, look at the buckets of the account's remote_storage entry
    /// NAME: list each once, match its snapshot ids to the account's sites
    /// and print what matched, what is ambiguous or orphaned, and the
    /// sites it judges without a revision (never a key). Without
    /// --account, the one account with such an entry. Exits 1 when a
    /// bucket cannot be listed.
    #[arg(long = "remote-storage", value_name = "NAME", conflicts_with_all = ["site", "refresh"])]
    pub remote_storage: Option<String>,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The exporter's --web.listen-address; an unspecified host (":9878",
    /// "0.0.0.0:9878", "[::]:9878") is reached over loopback.
    #[arg(
        long = "web.listen-address",
        value_name = "ADDR",
        default_value = ":9878"
    )]
    pub listen_address: String,

    /// The exporter's --web.config.file: with TLS configured there, the
    /// probe speaks HTTPS (to itself on loopback, without verifying the
    /// certificate: it sends nothing secret and only reads the status).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Give up after this long: connecting, asking and reading together.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

fn positive_duration(raw: &str) -> Result<Duration, String> {
    match humantime::parse_duration(raw) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be more than zero".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// A byte count: digits, then optionally KiB, MiB or GiB.
fn parse_bytes(raw: &str) -> Result<usize, String> {
    let raw = raw.trim();
    let digits = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(digits);
    let shift = match unit.trim() {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        other => return Err(format!("unknown unit \"{other}\" (KiB, MiB or GiB)")),
    };
    number
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("\"{raw}\" is not a byte count such as 64MiB"))
}

/// Parses `--web.listen-address`: `host:port`, `:port` (every interface),
/// or `[v6]:port`.
pub fn parse_listen_address(raw: &str) -> Result<SocketAddr, String> {
    let full = if raw.starts_with(':') {
        format!("0.0.0.0{raw}")
    } else {
        raw.to_string()
    };
    if let Ok(addr) = full.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = full.strip_prefix("localhost:") {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
        }
    }
    Err(format!(
        "--web.listen-address: \"{raw}\" is not an address (expected host:port or :port)"
    ))
}

/// Checks `--web.telemetry-path`: an absolute path that does not shadow
/// another endpoint.
pub fn check_telemetry_path(path: &str) -> Result<(), String> {
    let taken = path == "/"
        || path == "/-/healthy"
        || path == "/-/ready"
        || path.starts_with("/api/")
        || path.starts_with("/static/");
    if !path.starts_with('/') || path.contains(['?', '#', '{', '}', '*']) {
        return Err(format!(
            "--web.telemetry-path: \"{path}\" must be an absolute path such as /metrics"
        ));
    }
    if taken {
        return Err(format!(
            "--web.telemetry-path: \"{path}\" is taken by another endpoint"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_telemetry_path_must_not_shadow_another_endpoint() {
        assert!(check_telemetry_path("/metrics").is_ok());
        assert!(check_telemetry_path("/gridpane/metrics").is_ok());
        for bad in [
            "/",
            "metrics",
            "/-/ready",
            "/api/v1/sites",
            "/static/x",
            "/m/{id}",
        ] {
            assert!(check_telemetry_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_and_memory_limits_are_flags_with_defaults() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.max_connections, 128);
        assert_eq!(cli.header_read_timeout, Duration::from_secs(10));
        assert_eq!(cli.max_api_answer_bytes, 64 << 20);
        let cli = Cli::try_parse_from([
            "x",
            "--web.max-connections=512",
            "--web.header-read-timeout=3s",
            "--web.max-api-answer-bytes=1GiB",
        ])
        .unwrap();
        assert_eq!(cli.max_connections, 512);
        assert_eq!(cli.header_read_timeout, Duration::from_secs(3));
        assert_eq!(cli.max_api_answer_bytes, 1 << 30);
        for bad in [
            "--web.max-connections=0",
            "--web.header-read-timeout=0s",
            "--web.max-api-answer-bytes=0",
            "--web.max-api-answer-bytes=12MB",
            "--web.max-api-answer-bytes=-1",
        ] {
            assert!(Cli::try_parse_from(["x", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bare_port_listens_on_every_interface() {
        assert_eq!(
            parse_listen_address(":9878").unwrap().to_string(),
            "0.0.0.0:9878"
        );
        assert_eq!(
            parse_listen_address("127.0.0.1:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(
            parse_listen_address("[::1]:80").unwrap().to_string(),
            "[::1]:80"
        );
        assert_eq!(
            parse_listen_address("localhost:1").unwrap().to_string(),
            "127.0.0.1:1"
        );
        assert!(parse_listen_address("nope").is_err());
        assert!(parse_listen_address(":99999").is_err());
    }

    #[test]
    fn the_demo_listens_on_loopback_unless_an_address_is_given() {
        let listen = |args: &[&str]| {
            Cli::try_parse_args(std::iter::once("x").chain(args.iter().copied()))
                .unwrap()
                .listen_address
        };
        assert_eq!(listen(&["--demo"]), "127.0.0.1:9878");
        assert_eq!(listen(&["--demo", "--web.listen-address=:9878"]), ":9878");
        assert_eq!(
            listen(&["--demo", "--web.listen-address", "[::]:1"]),
            "[::]:1"
        );
        assert_eq!(listen(&[]), ":9878");
        assert_eq!(listen(&["--config.file=c.yml"]), ":9878");
    }

    #[test]
    fn healthcheck_is_a_subcommand_that_excludes_the_server_flags() {
        let cli = Cli::try_parse_from([
            "x",
            "healthcheck",
            "--web.listen-address=[::]:9000",
            "--timeout=1s",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Healthcheck(a)) => {
                assert_eq!(a.listen_address, "[::]:9000");
                assert_eq!(a.timeout, Duration::from_secs(1));
            }
            other => panic!("not healthcheck: {other:?}"),
        }
        assert!(Cli::try_parse_from(["x", "--demo", "healthcheck"]).is_err());
        assert!(
            Cli::try_parse_from(["x", "--demo"])
                .unwrap()
                .command
                .is_none()
        );
    }

    #[test]
    fn inspect_takes_its_own_config_file_account_site_and_refresh() {
        let cli = Cli::try_parse_from([
            "x",
            "inspect",
            "--config.file=c.yml",
            "--account=acme",
            "--site=42",
            "--refresh",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Inspect(a)) => {
                assert_eq!(a.config_file, Some(PathBuf::from("c.yml")));
                assert_eq!(a.account.as_deref(), Some("acme"));
                assert_eq!(a.site, Some(42));
                assert!(a.refresh);
            }
            other => panic!("not inspect: {other:?}"),
        }
        assert!(Cli::try_parse_from(["x", "inspect", "--site=abc"]).is_err());
    }

    #[test]
    fn inspect_looks_at_a_remote_storage_entry_instead_of_a_site() {
        let cli = Cli::try_parse_from(["x", "inspect", "--remote-storage", "wasabi-main"]).unwrap();
        match cli.command {
            Some(Command::Inspect(a)) => {
                assert_eq!(a.remote_storage.as_deref(), Some("wasabi-main"));
            }
            other => panic!("not inspect: {other:?}"),
        }
        for other in ["--site=42", "--refresh"] {
            assert!(
                Cli::try_parse_from(["x", "inspect", "--remote-storage=w", other]).is_err(),
                "{other}"
            );
        }
    }
}
