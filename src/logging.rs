//! Log setup: logfmt (the Prometheus exporters' default) or JSON, to stderr.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::{LogFormat, LogLevel};

fn filter(level: LogLevel) -> EnvFilter {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    // Dependencies stay quiet below warn: their debug lines can carry URLs
    // and headers.
    EnvFilter::new(format!(
        "{level},hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,rustls=warn,tower_http=warn,axum=warn"
    ))
}

/// Installs the global subscriber. Safe to call once.
pub fn init(level: LogLevel, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Logfmt => builder.event_format(Logfmt).try_init(),
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
    use super::quote;

    #[test]
    fn logfmt_values_are_quoted_only_when_they_need_it() {
        assert_eq!(quote("ok"), "ok");
        assert_eq!(quote("poll finished"), "\"poll finished\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a\"b\nc"), "\"a\\\"b\\nc\"");
    }
}
