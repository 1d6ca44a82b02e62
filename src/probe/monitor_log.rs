//! `backups.monitoring.log`, GridPane's own failure signal: one line per
//! backup, `Thu-Jul--1-01:00:11-EDT-2021 | example.com | Duplicacy Fail {1}`,
//! followed by a few lines of reason. `{1}` marks a failure (the knowledge
//! base greps `.*Duplicacy.*{1}`); other status lines are not failures.
//!
//! Read as a stream with bounded state, whatever the file holds: a line
//! longer than [`MAX_LINE`] bytes is skipped (read past, never held), a site
//! name longer than [`MAX_SITE`] bytes is not a site, at most [`MAX_SITES`]
//! sites are kept (further ones are counted), and per site only the counts,
//! the newest failure's time and that failure's first reason line, cut to
//! [`MAX_REASON`] bytes. Invalid UTF-8 is read lossily (U+FFFD).

use std::collections::HashMap;
use std::io::{self, BufRead};

use super::Skipped;
use super::log_date;

/// The name of the log, directly under the GridPane folder.
pub const FILE: &str = "backups.monitoring.log";
/// Longest line read; longer ones are skipped.
pub const MAX_LINE: usize = 8 * 1024;
/// Longest site name kept (a DNS name has at most 253 characters).
pub const MAX_SITE: usize = 512;
/// Most sites kept.
pub const MAX_SITES: usize = 10_000;
/// Longest reason kept for the log.
pub const MAX_REASON: usize = 256;

/// What the log says about one site.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteFailures {
    /// `{1}` lines.
    pub failures: u64,
    /// Time of the newest failure whose date was read, unix seconds.
    pub last: Option<i64>,
    /// First reason line of the newest failure (for the log only).
    pub reason: Option<String>,
}

/// The whole log, read.
#[derive(Debug, Default)]
pub struct LogSummary {
    pub sites: HashMap<String, SiteFailures>,
    /// Backup status lines whose date was not understood (still counted as
    /// failures of their site when they are).
    pub unknown_date_lines: u64,
}

/// Reads the log from `reader` to its end.
pub fn read(reader: impl BufRead, skipped: &mut Skipped) -> io::Result<LogSummary> {
    let mut parser = Parser::default();
    let mut lines = BoundedLines::new(reader);
    while let Some(line) = lines.next_line()? {
        match line {
            Line::TooLong => {
                skipped.line_too_long += 1;
                parser.awaiting_reason = None;
            }
            Line::Text(bytes) => parser.line(&String::from_utf8_lossy(bytes), skipped),
        }
    }
    Ok(parser.summary)
}

#[derive(Default)]
struct Parser {
    summary: LogSummary,
    /// The site whose failure line came last, while its reason is awaited.
    awaiting_reason: Option<String>,
}

impl Parser {
    fn line(&mut self, line: &str, skipped: &mut Skipped) {
        let line = line.trim_end_matches(['\r', '\n']);
        let Some((date, site, status)) = status_line(line) else {
            // A reason line: the first one that is not blank after a
            // failure is kept.
            let reason = line.trim();
            if let (Some(site), false) = (&self.awaiting_reason, reason.is_empty()) {
                if let Some(s) = self.summary.sites.get_mut(site) {
                    s.reason = Some(cut(reason, MAX_REASON).to_owned());
                }
                self.awaiting_reason = None;
            }
            return;
        };
        self.awaiting_reason = None;
        let when = log_date::parse(date);
        if when.is_none() {
            self.summary.unknown_date_lines += 1;
        }
        if !status.ends_with("{1}") {
            return;
        }
        if site.is_empty() || site.len() > MAX_SITE {
            skipped.not_a_site += 1;
            return;
        }
        let sites = &mut self.summary.sites;
        if !sites.contains_key(site) && sites.len() >= MAX_SITES {
            skipped.too_many_sites += 1;
            return;
        }
        let entry = sites.entry(site.to_owned()).or_default();
        entry.failures += 1;
        let newest = match (when, entry.last) {
            (Some(w), Some(l)) => w >= l,
            (Some(_), None) => true,
            (None, last) => last.is_none(),
        };
        if let (Some(w), true) = (when, newest) {
            entry.last = Some(w);
        }
        if newest {
            entry.reason = None;
            self.awaiting_reason = Some(site.to_owned());
        }
    }
}

/// `date | site | status` where the status names Duplicacy, or `None`.
fn status_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut parts = line.splitn(3, " | ");
    let date = parts.next()?;
    let site = parts.next()?;
    let status = parts.next()?.trim();
    if !status.contains("Duplicacy") || date.contains(' ') {
        return None;
    }
    Some((date, site.trim(), status))
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

enum Line<'a> {
    Text(&'a [u8]),
    TooLong,
}

/// Lines of at most [`MAX_LINE`] bytes; the bytes of a longer one are
/// consumed without being kept.
struct BoundedLines<R> {
    reader: R,
    buf: Vec<u8>,
}

impl<R: BufRead> BoundedLines<R> {
    fn new(reader: R) -> Self {
        BoundedLines {
            reader,
            buf: Vec::with_capacity(MAX_LINE + 1),
        }
    }

    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut too_long = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let (take, end) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                let room = MAX_LINE.saturating_sub(self.buf.len());
                match chunk.get(..take) {
                    Some(part) if part.len() <= room => self.buf.extend_from_slice(part),
                    _ => {
                        too_long = true;
                        self.buf.clear();
                    }
                }
            }
            self.reader.consume(take);
            if end {
                return Ok(Some(self.finish(too_long)));
            }
        }
        if too_long {
            return Ok(Some(Line::TooLong));
        }
        Ok((!self.buf.is_empty()).then_some(Line::Text(&self.buf)))
    }

    fn finish(&self, too_long: bool) -> Line<'_> {
        if too_long {
            Line::TooLong
        } else {
            Line::Text(&self.buf)
        }
    }
}

#[cfg(test)]
mod tests;
