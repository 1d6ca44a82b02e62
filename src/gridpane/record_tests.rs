use super::*;

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())
}

/// 2026-12-08 00:00 UTC: after every name below but the future ones.
const NOW: i64 = 1_796_688_000;

fn read_str(body: &str) -> Result<Found, Unreadable> {
    read(body.as_bytes(), utc(), NOW)
}

/// (source, type, unix time) of every backup found.
fn found(body: &str) -> Vec<(&'static str, &'static str, i64)> {
    match read_str(body) {
        Ok(f) => f
            .backups
            .iter()
            .map(|b| {
                (
                    b.source.map_or("?", Source::as_str),
                    b.kind.map_or("?", BackupType::as_str),
                    b.at,
                )
            })
            .collect(),
        Err(e) => panic!("{body}: {e:?}"),
    }
}

const DEC_6: i64 = 1_796_526_000; // 2026-12-06 03:00
const DEC_7: i64 = 1_796_612_400; // 2026-12-07 03:00

#[test]
fn the_production_shape_is_read_with_remote_sources_beside_local() {
    let body = r#"{"success": true, "backups": {
        "local": {"automatic": "2026-12-06 03:00,2026-12-07 03:00", "manual": ""},
        "aws-s3": {"automatic": "2026-12-06 03:00, 2026-12-07 03:00 gp-automated", "manual": "2026-12-07 03:00 before-update"},
        "wasabi": {"automatic": "", "manual": ""}}}"#;
    assert_eq!(
        found(body),
        vec![
            ("local", "automatic", DEC_6),
            ("local", "automatic", DEC_7),
            ("aws-s3", "automatic", DEC_6),
            ("aws-s3", "automatic", DEC_7),
            ("aws-s3", "manual", DEC_7),
        ]
    );
}

#[test]
fn lists_of_names_and_of_named_objects_are_read_too() {
    let body = r#"{"success": "1", "backups": {"local": {
        "automatic": ["2026-12-06 03:00", "2026-12-07 03:00"],
        "manual": [{"name": "2026-12-07 03:00 x", "size": 12}, {"backup_name": "2026-12-06 03:00"}]}}}"#;
    assert_eq!(found(body).len(), 4);
    let unnamed = r#"{"success": true, "backups": {"local": {"automatic": [{"created_at": "2026-12-06 03:00"}]}}}"#;
    assert_eq!(read_str(unnamed).unwrap_err(), Unreadable::UnknownShape);
}

#[test]
fn a_date_shaped_string_outside_the_names_is_not_a_backup() {
    let body = r#"{"success": true, "generated_at": "2026-12-07 14:00",
        "backups": {"local": {"automatic": "2026-11-17 03:00", "manual": "", "updated": "2026-12-07 14:00"},
                    "remote": {"automatic": "2026-12-07 14:00"}}}"#;
    assert_eq!(
        found(body),
        vec![("local", "automatic", 1_794_884_400)],
        "only local.automatic names a backup"
    );
}

#[test]
fn success_is_read_in_every_form_gridpane_sends_and_missing_beside_backups() {
    for ok in ["true", "1", "\"1\"", "\"true\""] {
        let body = format!(
            r#"{{"success": {ok}, "backups": {{"local": {{"automatic": "2026-12-06 03:00"}}}}}}"#
        );
        assert_eq!(found(&body).len(), 1, "{ok}");
    }
    assert_eq!(
        found(r#"{"backups": {"local": {"automatic": "2026-12-06 03:00"}}}"#).len(),
        1
    );
    for bad in ["false", "\"false\"", "0", "\"0\"", "null", "2", "\"yes\""] {
        let body = format!(
            r#"{{"success": {bad}, "backups": {{"local": {{"automatic": "2026-12-06 03:00"}}}}}}"#
        );
        assert_eq!(read_str(&body), Err(Unreadable::Unsuccessful), "{bad}");
    }
    assert_eq!(
        read_str(r#"{"error": {"code": 404, "message": "x"}}"#),
        Err(Unreadable::Unsuccessful)
    );
}

#[test]
fn a_body_that_says_nothing_is_unreadable_not_no_backups() {
    for body in [
        "",
        "  ",
        "{}",
        "null",
        "[]",
        r#"{"success": true}"#,
        r#"{"success": true, "backups": null}"#,
    ] {
        assert_eq!(read_str(body), Err(Unreadable::Empty), "{body:?}");
    }
    // An envelope that says "no backups" in so many words is readable.
    for body in [
        r#"{"success": true, "backups": {}}"#,
        r#"{"success": true, "backups": []}"#,
        r#"{"success": true, "backups": {"local": {"automatic": "", "manual": null}, "wasabi": []}}"#,
    ] {
        assert_eq!(read_str(body), Ok(Found::default()), "{body}");
    }
}

#[test]
fn html_truncated_and_invalid_json_are_each_named() {
    assert_eq!(
        read_str("<!doctype html><p>Server Error"),
        Err(Unreadable::Html)
    );
    assert_eq!(
        read_str(r#"{"success": true, "backups": {"local": {"automatic": "2026-12-06 03"#),
        Err(Unreadable::Truncated)
    );
    assert_eq!(read_str("{success: true}"), Err(Unreadable::InvalidJson));
    assert_eq!(
        read_str(r#"{"success": true} x"#),
        Err(Unreadable::InvalidJson)
    );
}

#[test]
fn nesting_deeper_than_the_cap_is_unreadable_wherever_it_is() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let body = format!(
        r#"{{"success": true, "meta": {}, "backups": {{"local": {{"automatic": "2026-12-06 03:00"}}}}}}"#,
        deep(40)
    );
    assert_eq!(read_str(&body), Err(Unreadable::TooDeep));
    let shallow = format!(
        r#"{{"success": true, "meta": {}, "backups": {{}}}}"#,
        deep(MAX_DEPTH - 1)
    );
    assert_eq!(read_str(&shallow), Ok(Found::default()));
}

#[test]
fn names_that_are_epochs_or_iso_times_make_the_record_unreadable() {
    for names in [
        r#""1796526000""#,
        "1796526000",
        r#"[1796526000]"#,
        r#""2026-12-06T03:00:00Z""#,
        r#""2026-12-06 03:00,2026-12-07T03:00:00+00:00""#,
        r#"[{"name": 1796526000}]"#,
    ] {
        let body =
            format!(r#"{{"success": true, "backups": {{"local": {{"automatic": {names}}}}}}}"#);
        assert_eq!(read_str(&body), Err(Unreadable::BadName), "{names}");
    }
}

#[test]
fn a_name_dated_beyond_the_clock_allowance_makes_the_record_unreadable() {
    let at = |name: &str| {
        read_str(&format!(
            r#"{{"success": true, "backups": {{"local": {{"automatic": "2026-12-06 03:00,{name}"}}}}}}"#
        ))
        .map(|f| f.backups.len())
    };
    assert_eq!(at("2099-01-01 00:00"), Err(Unreadable::FutureName));
    // NOW is 2026-12-08 00:00: an hour ahead is allowed, a minute more not.
    assert_eq!(at("2026-12-08 01:00"), Ok(2));
    assert_eq!(at("2026-12-08 01:01"), Err(Unreadable::FutureName));
}

#[test]
fn other_shapes_are_unknown() {
    for body in [
        r#""backups""#,
        "12",
        "[1, 2]",
        r#"{"success": true, "backups": "2026-12-06 03:00"}"#,
        r#"{"success": true, "backups": {"local": "2026-12-06 03:00"}}"#,
        r#"{"success": true, "backups": {"local": {"automatic": {"2026-12-06 03:00": 1}}}}"#,
        r#"{"success": true, "backups": {"local": {"automatic": [null]}}}"#,
        r#"{"success": true, "backups": {"local": {"automatic": true}}}"#,
    ] {
        assert_eq!(read_str(body), Err(Unreadable::UnknownShape), "{body}");
    }
}

#[test]
fn a_huge_record_stops_at_the_caps_without_reading_it_all() {
    // Over the byte cap: refused before any decoding.
    let zeros = vec![b'0'; MAX_RECORD_BYTES + 1];
    assert_eq!(read(&zeros, utc(), NOW), Err(Unreadable::TooLarge));
    // Under it, a list of zeros stops at the value cap, long before its end.
    let items = MAX_VALUES * 2;
    let mut body = String::with_capacity(items * 2 + 64);
    body.push_str(r#"{"success": true, "junk": ["#);
    for i in 0..items {
        body.push_str(if i == 0 { "0" } else { ",0" });
    }
    body.push_str(r#"], "backups": {}}"#);
    assert!(body.len() <= MAX_RECORD_BYTES);
    assert_eq!(read_str(&body), Err(Unreadable::TooLarge));
    // Zeros in the names' place are not names at all.
    let names = format!(
        r#"{{"success": true, "backups": {{"local": {{"automatic": [{}]}}}}}}"#,
        vec!["0"; 1000].join(",")
    );
    assert_eq!(read_str(&names), Err(Unreadable::BadName));
    // More names than the cap.
    let many = vec!["2026-12-06 03:00"; MAX_NAMES + 1].join(",");
    let body = format!(r#"{{"success": true, "backups": {{"local": {{"automatic": "{many}"}}}}}}"#);
    assert_eq!(read_str(&body), Err(Unreadable::TooLarge));
}
