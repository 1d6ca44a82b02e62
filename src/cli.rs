//! Command-line flags, named as the Prometheus exporter toolkit names them.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const LONG_VERSION: &str = concat!(
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

/// Prometheus exporter for the backup schedules of WordPress sites on GridPane.
#[derive(Debug, Parser)]
#[command(
    name = "gridpane-backup-exporter",
    version = LONG_VERSION,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// YAML configuration file (accounts, poll settings, state file).
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Validate the configuration, print a summary and exit.
    #[arg(long = "config.check")]
    pub config_check: bool,

    /// Address to listen on; ":9878" means every interface.
    #[arg(
        long = "web.listen-address",
        value_name = "ADDR",
        default_value = ":9878"
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask a running exporter for /-/healthy over loopback; exit 0 if it
    /// answers 200, else 1. For container health checks: needs no shell.
    Healthcheck(HealthcheckArgs),
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

    /// Give up after this long: connecting, asking and reading together.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Where `healthcheck` connects for a given listen address: the address
/// itself, or loopback of the same family when it is unspecified.
pub fn probe_target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// GETs `/-/healthy` from `target` with plain HTTP/1.0 and std only, so that
/// a container image needs neither a shell nor curl. `Ok` only on a 200
/// within `timeout`.
pub fn healthcheck(target: SocketAddr, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("no answer from {target} within {timeout:?}"))
    };
    let mut stream = TcpStream::connect_timeout(&target, remaining()?)
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    stream
        .set_write_timeout(Some(remaining()?))
        .and_then(|()| {
            stream.write_all(
                format!(
                    "GET /-/healthy HTTP/1.0\r\nHost: {target}\r\nUser-Agent: gridpane-backup-exporter-healthcheck\r\n\r\n"
                )
                .as_bytes(),
            )
        })
        .map_err(|e| format!("cannot send the request to {target}: {e}"))?;
    // The status line is all that matters: "HTTP/1.x 200 OK".
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        stream
            .set_read_timeout(Some(remaining()?))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("cannot read the answer from {target}: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or("").trim();
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some("200")) if v.starts_with("HTTP/1.") => Ok(()),
        (Some(v), Some(_)) if v.starts_with("HTTP/1.") => {
            Err(format!("http://{target}/-/healthy answered \"{line}\""))
        }
        _ => Err(format!(
            "http://{target}/-/healthy: not an HTTP answer: {line:?}"
        )),
    }
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
    fn an_unspecified_listen_address_is_probed_over_loopback() {
        let probe = |raw: &str| probe_target(parse_listen_address(raw).unwrap()).to_string();
        assert_eq!(probe(":9878"), "127.0.0.1:9878");
        assert_eq!(probe("0.0.0.0:1"), "127.0.0.1:1");
        assert_eq!(probe("[::]:2"), "[::1]:2");
        assert_eq!(probe("192.0.2.7:3"), "192.0.2.7:3");
    }

    /// A one-shot server that answers the first request with `answer`.
    fn serve_once(answer: &'static str) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = [0u8; 512];
            let n = conn.read(&mut req).unwrap();
            assert!(req[..n].starts_with(b"GET /-/healthy HTTP/1.0\r\n"));
            conn.write_all(answer.as_bytes()).unwrap();
        });
        addr
    }

    #[test]
    fn healthcheck_passes_only_on_a_200() {
        let t = Duration::from_secs(5);
        assert_eq!(
            healthcheck(serve_once("HTTP/1.0 200 OK\r\n\r\nOK"), t),
            Ok(())
        );
        let err =
            healthcheck(serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n"), t).unwrap_err();
        assert!(err.contains("503"), "{err}");
        assert!(healthcheck(serve_once("SSH-2.0-OpenSSH\r\n"), t).is_err());
        assert!(healthcheck(serve_once(""), t).is_err());
    }

    #[test]
    fn healthcheck_fails_fast_on_a_closed_port_and_a_silent_server() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        assert!(healthcheck(closed, Duration::from_secs(2)).is_err());

        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let started = Instant::now();
        let err =
            healthcheck(silent.local_addr().unwrap(), Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
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
            None => panic!("no subcommand"),
        }
        assert!(Cli::try_parse_from(["x", "--demo", "healthcheck"]).is_err());
        assert!(
            Cli::try_parse_from(["x", "--demo"])
                .unwrap()
                .command
                .is_none()
        );
    }
}
