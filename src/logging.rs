//! Log setup: logfmt (the Prometheus exporters' default) or JSON, to stderr.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::cli::{LogFormat, LogLevel};

/// Dependencies stay quiet below warn: their debug lines can carry URLs and
/// headers. A target matches these and every target they prefix.
const QUIET_DEPENDENCIES: [&str; 7] = [
    "hyper",
    "hyper_util",
    "reqwest",
    "h2",
    "rustls",
    "tower_http",
    "axum",
];

fn filter(level: LogLevel) -> Targets {
    let level = match level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    };
    Targets::new()
        .with_default(level)
        .with_targets(QUIET_DEPENDENCIES.map(|t| (t, LevelFilter::WARN)))
}

/// Installs the global subscriber. Safe to call once.
pub fn init(level: LogLevel, format: LogFormat) {
    let registry = tracing_subscriber::registry().with(filter(level));
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Logfmt => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(Logfmt)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already initialised (tests): keep the first.
    let _ = result;
}

/// `ts=... level=info msg="..." key=value ...`, one line per event.
struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        write!(
            writer,
            "ts={} level={} msg={}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            meta.level().as_str().to_ascii_lowercase(),
            quote(fields.message.as_deref().unwrap_or(""))
        )?;
        for (k, v) in &fields.pairs {
            write!(writer, " {k}={}", quote(v))?;
        }
        writeln!(writer, " target={}", meta.target())
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    pairs: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.store(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.store(field, format!("{value:?}"));
    }
}

impl Fields {
    fn store(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.pairs.push((field.name(), value));
        }
    }
}

/// Quotes a logfmt value when it needs it.
fn quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && c != '"' && c != '=' && !c.is_control());
    if plain {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::{LogLevel, filter, quote};

    #[test]
    fn dependencies_log_only_warnings_whatever_the_level() {
        use tracing::Level;
        let debug = filter(LogLevel::Debug);
        assert!(debug.would_enable("gridpane_backup_exporter::poller", &Level::DEBUG));
        assert!(!debug.would_enable("gridpane_backup_exporter::poller", &Level::TRACE));
        for target in [
            "hyper",
            "hyper_util::client::legacy",
            "reqwest::connect",
            "rustls::conn",
        ] {
            assert!(!debug.would_enable(target, &Level::INFO), "{target}");
            assert!(debug.would_enable(target, &Level::WARN), "{target}");
        }
        let error = filter(LogLevel::Error);
        assert!(!error.would_enable("gridpane_backup_exporter::app", &Level::WARN));
        assert!(error.would_enable("rustls", &Level::WARN));
    }

    #[test]
    fn logfmt_values_are_quoted_only_when_they_need_it() {
        assert_eq!(quote("ok"), "ok");
        assert_eq!(quote("poll finished"), "\"poll finished\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a\"b\nc"), "\"a\\\"b\\nc\"");
    }
}
