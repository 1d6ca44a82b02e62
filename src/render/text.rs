//! The text exposition format, written directly: one writer for every
//! family of `/metrics` (the snapshot part, the health and detail series,
//! and the process metrics the `prometheus` crate gathers). Its check is the
//! golden file `tests/fixtures/demo.prom` and `promtool check metrics` on
//! the whole exposition.

use std::io::Write as _;

use prometheus::proto::{MetricFamily, MetricType};

/// A family's `# HELP` and `# TYPE` lines.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, help: &str, kind: &str) {
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    write_escaped(out, help, false);
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
}

/// One sample line: `name{label="value",...} value`.
pub(crate) fn write_sample(out: &mut Vec<u8>, name: &str, labels: &[(&str, &str)], value: f64) {
    out.extend_from_slice(name.as_bytes());
    let mut separator = b'{';
    for (k, v) in labels {
        out.push(separator);
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"=\"");
        write_escaped(out, v, true);
        out.push(b'"');
        separator = b',';
    }
    if !labels.is_empty() {
        out.push(b'}');
    }
    out.push(b' ');
    write_value(out, value);
    out.push(b'\n');
}

/// Escapes `\` and newline (and `"` in label values) as the text format
/// requires. All three are ASCII, so working on bytes keeps UTF-8 intact.
fn write_escaped(out: &mut Vec<u8>, s: &str, quote: bool) {
    let needs = |b: &u8| *b == b'\\' || *b == b'\n' || (quote && *b == b'"');
    if !s.as_bytes().iter().any(needs) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if quote => out.extend_from_slice(b"\\\""),
            b => out.push(b),
        }
    }
}

/// A value as `f64`'s `Display` writes it: integers without a fraction,
/// `inf`, `NaN` (all of which Prometheus parses).
fn write_value(out: &mut Vec<u8>, value: f64) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT && !(value == 0.0 && value.is_sign_negative()) {
        if value < 0.0 {
            out.push(b'-');
        }
        let mut buf = [0u8; 20];
        out.extend_from_slice(digits(&mut buf, value.abs() as u64));
    } else {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{value}");
    }
}

/// `n` in decimal, written into the end of `buf` (20 digits hold any u64,
/// so `i` stays in bounds).
fn digits(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// An id as a label value, without allocating a `String` per site.
pub(crate) fn decimal(buf: &mut [u8; 20], n: u64) -> &str {
    std::str::from_utf8(digits(buf, n)).unwrap_or_default()
}

/// A family being built from labelled values, its samples written as they
/// come: what the health, policy and detail series use.
#[derive(Clone, Debug)]
pub(crate) struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<u8>,
}

impl Family {
    pub(crate) fn gauge(name: &'static str, help: &'static str) -> Self {
        Family {
            name,
            help,
            kind: "gauge",
            samples: Vec::new(),
        }
    }

    pub(crate) fn counter(name: &'static str, help: &'static str) -> Self {
        Family {
            kind: "counter",
            ..Family::gauge(name, help)
        }
    }

    pub(crate) fn push(&mut self, labels: &[(&str, &str)], value: f64) {
        write_sample(&mut self.samples, self.name, labels, value);
    }

    /// Appends the samples of `other` (the same family, rendered apart).
    pub(crate) fn extend(&mut self, other: &Family) {
        self.samples.extend_from_slice(&other.samples);
    }
}

/// Writes the families that have samples, in order; a family without any
/// is left out entirely (no `# HELP` line alone).
pub(crate) fn write_families(families: &[Family], out: &mut Vec<u8>) {
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        write_header(out, f.name, f.help, f.kind);
        out.extend_from_slice(&f.samples);
    }
}

/// Writes families gathered by the `prometheus` crate (the process
/// collector's counters and gauges). Other kinds are not gathered here and
/// are left out, as is a family without samples.
pub fn write_gathered(families: &[MetricFamily], out: &mut Vec<u8>) {
    for mf in families {
        let kind = match mf.get_field_type() {
            MetricType::COUNTER => "counter",
            MetricType::GAUGE => "gauge",
            other => {
                tracing::debug!(family = mf.name(), kind = ?other, "metric kind not written");
                continue;
            }
        };
        if mf.get_metric().is_empty() {
            continue;
        }
        write_header(out, mf.name(), mf.help(), kind);
        for m in mf.get_metric() {
            let labels: Vec<(&str, &str)> = m
                .get_label()
                .iter()
                .map(|l| (l.name(), l.value()))
                .collect();
            let value = if kind == "counter" {
                m.get_counter().get_value()
            } else {
                m.get_gauge().get_value()
            };
            write_sample(out, mf.name(), &labels, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus::core::Collector;
    use prometheus::{IntCounterVec, Opts};

    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn values_are_written_as_prometheus_reads_them() {
        let line = |v: f64| text(|out| write_sample(out, "m", &[], v));
        assert_eq!(line(0.0), "m 0\n");
        assert_eq!(line(-0.0), "m -0\n");
        assert_eq!(line(42.0), "m 42\n");
        assert_eq!(line(-3.0), "m -3\n");
        assert_eq!(line(1.5), "m 1.5\n");
        assert_eq!(line(f64::INFINITY), "m inf\n");
        assert_eq!(line(f64::NEG_INFINITY), "m -inf\n");
        assert_eq!(line(f64::NAN), "m NaN\n");
        assert_eq!(line(1_795_000_000.0), "m 1795000000\n");
        assert_eq!(line(1e20), "m 100000000000000000000\n");
    }

    #[test]
    fn label_values_and_help_are_escaped_as_the_format_requires() {
        let sample = text(|out| write_sample(out, "m", &[("a", "x\\y\"z\nw")], 1.0));
        assert_eq!(sample, "m{a=\"x\\\\y\\\"z\\nw\"} 1\n");
        // In help, a quote stays as it is.
        let header = text(|out| write_header(out, "m", "say \"hi\"\\\n", "gauge"));
        assert_eq!(header, "# HELP m say \"hi\"\\\\\\n\n# TYPE m gauge\n");
    }

    #[test]
    fn a_family_without_samples_is_left_out() {
        let mut used = Family::counter("used_total", "Used.");
        used.push(&[("k", "v")], 2.0);
        let empty = Family::gauge("empty", "Never pushed.");
        let out = text(|out| write_families(&[empty, used], out));
        assert_eq!(
            out,
            "# HELP used_total Used.\n# TYPE used_total counter\nused_total{k=\"v\"} 2\n"
        );
    }

    #[test]
    fn gathered_families_are_written_with_their_labels_and_kind() {
        let counter =
            IntCounterVec::new(Opts::new("gathered_total", "Gathered."), &["kind"]).unwrap();
        counter.with_label_values(&["a"]).inc_by(3);
        let out = text(|out| write_gathered(&counter.collect(), out));
        assert_eq!(
            out,
            "# HELP gathered_total Gathered.\n# TYPE gathered_total counter\ngathered_total{kind=\"a\"} 3\n"
        );
    }
}
