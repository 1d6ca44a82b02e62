use std::io::{BufReader, Read};

use super::*;

fn read_str(text: &str) -> (LogSummary, Skipped) {
    let mut skipped = Skipped::default();
    let summary = read(text.as_bytes(), &mut skipped).unwrap();
    (summary, skipped)
}

#[test]
fn failures_are_counted_per_site_with_the_newest_time_and_its_first_reason() {
    let log = "\
Thu-Jul--1-01:00:11-EDT-2021 | example.com | Duplicacy Fail {1}
Unable to push full manual backup to Local... storage threshold exceeded...
Automated Local Backup Failed!
Thu-Jul--1-02:00:11-EDT-2021 | example.com | Duplicacy Success {0}
Thu-Jul--1-03:00:11-EDT-2021 | other.org | Duplicacy Fail {1}

   
Disk full
Thu-Jul--1-04:00:11-EDT-2021 | example.com | Duplicacy Fail {1}
Second failure's reason
";
    let (s, skipped) = read_str(log);
    assert_eq!(skipped, Skipped::default());
    assert_eq!(s.unknown_date_lines, 0);
    assert_eq!(s.sites.len(), 2);
    let ex = &s.sites["example.com"];
    assert_eq!(ex.failures, 2);
    assert_eq!(ex.last, Some(1_625_126_411));
    assert_eq!(ex.reason.as_deref(), Some("Second failure's reason"));
    let other = &s.sites["other.org"];
    assert_eq!(other.failures, 1);
    assert_eq!(other.reason.as_deref(), Some("Disk full"));
}

#[test]
fn a_line_with_a_date_it_does_not_know_is_counted_and_its_failure_kept() {
    let log = "\
2021-07-01T01:00:11+02:00 | example.com | Duplicacy Fail {1}
Thu-Jul--1-01:00:11-CEST-2021 | example.com | Duplicacy Success {0}
";
    let (s, _) = read_str(log);
    assert_eq!(s.unknown_date_lines, 2);
    let ex = &s.sites["example.com"];
    assert_eq!(ex.failures, 1);
    assert_eq!(ex.last, None);
}

#[test]
fn invalid_utf8_is_read_lossily() {
    let mut log = b"Thu-Jul--1-01:00:11-EDT-2021 | caf\xe9.com | Duplicacy Fail {1}\n".to_vec();
    log.extend_from_slice(b"bad \xff reason\n");
    let mut skipped = Skipped::default();
    let s = read(log.as_slice(), &mut skipped).unwrap();
    let site = s.sites.get("caf\u{fffd}.com").expect("lossy site name");
    assert_eq!(site.failures, 1);
    assert_eq!(site.reason.as_deref(), Some("bad \u{fffd} reason"));
}

/// `total` bytes of `pattern` repeated, produced as they are read: a log of
/// any size without holding it.
struct Repeat {
    pattern: Vec<u8>,
    at: usize,
    left: u64,
}

impl Read for Repeat {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < out.len() && self.left > 0 {
            let Some(b) = self.pattern.get(self.at % self.pattern.len()) else {
                break;
            };
            if let Some(slot) = out.get_mut(n) {
                *slot = *b;
            }
            n += 1;
            self.at += 1;
            self.left -= 1;
        }
        Ok(n)
    }
}

#[test]
fn a_200_mb_line_is_read_past_with_the_line_buffer_capped() {
    // One line of 200 MB with no newline, then a real failure.
    let huge = Repeat {
        pattern: b"Thu-Jul--1-01:00:11-EDT-2021 | x.com | ".to_vec(),
        at: 0,
        left: 200 << 20,
    };
    let tail: &[u8] = b"\nThu-Jul--1-01:00:11-EDT-2021 | after.com | Duplicacy Fail {1}\n";
    let mut lines = BoundedLines::new(BufReader::new(huge.chain(tail)));
    let mut skipped = Skipped::default();
    let mut parser = Parser::default();
    let mut seen = 0;
    while let Some(line) = lines.next_line().unwrap() {
        seen += 1;
        match line {
            Line::TooLong => skipped.line_too_long += 1,
            Line::Text(b) => parser.line(&String::from_utf8_lossy(b), &mut skipped),
        }
    }
    assert_eq!(seen, 2);
    assert_eq!(skipped.line_too_long, 1);
    assert!(
        lines.buf.capacity() <= MAX_LINE + 1,
        "the line buffer grew to {} bytes",
        lines.buf.capacity()
    );
    assert_eq!(parser.summary.sites["after.com"].failures, 1);
}

#[test]
fn sites_beyond_the_cap_are_counted_not_kept() {
    let mut log = String::new();
    for i in 0..MAX_SITES + 50 {
        log.push_str(&format!(
            "Thu-Jul--1-01:00:11-EDT-2021 | s{i}.com | Duplicacy Fail {{1}}\n"
        ));
    }
    // A known site still counts past the cap.
    log.push_str("Thu-Jul--1-01:00:11-EDT-2021 | s0.com | Duplicacy Fail {1}\n");
    let long = "a".repeat(MAX_SITE + 1);
    log.push_str(&format!(
        "Thu-Jul--1-01:00:11-EDT-2021 | {long} | Duplicacy Fail {{1}}\n"
    ));
    let (s, skipped) = read_str(&log);
    assert_eq!(s.sites.len(), MAX_SITES);
    assert_eq!(skipped.too_many_sites, 50);
    assert_eq!(skipped.not_a_site, 1);
    assert_eq!(s.sites["s0.com"].failures, 2);
}

#[test]
fn a_reason_is_cut_to_its_cap_on_a_character_boundary() {
    let reason = "é".repeat(MAX_REASON);
    let log = format!("Thu-Jul--1-01:00:11-EDT-2021 | a.com | Duplicacy Fail {{1}}\n{reason}\n");
    let (s, _) = read_str(&log);
    let kept = s.sites["a.com"].reason.clone().unwrap_or_default();
    assert!(
        kept.len() <= MAX_REASON && kept.len() >= MAX_REASON - 1,
        "{}",
        kept.len()
    );
    assert!(kept.chars().all(|c| c == 'é'));
}
