//! Property tests: every decoder of outside data (API bodies, the state
//! file) returns Ok or Err on arbitrary input, never panics, and its errors
//! never quote a value from the input.

use std::path::Path;

use gridpane_backup_exporter::gridpane::{Endpoint, decode, wire};
use gridpane_backup_exporter::persist;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Planted in every generated string value: no error message may contain it.
const MARK: &str = "LEAKED-VALUE";

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[0-9]{0,6}".prop_map(|s| json!(format!("{s}{MARK}"))),
        "[0-9]{1,6}".prop_map(Value::String),
        Just(json!("true")),
        Just(json!("1")),
        Just(json!("")),
        ".{0,12}".prop_map(|s| json!(format!("{MARK}{s}"))),
    ]
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys the decoders look for, so that generated objects reach deep.
const KEYS: &[&str] = &[
    "id",
    "url",
    "server_id",
    "local_bup",
    "remote_bup",
    "server",
    "label",
    "region",
    "update_backups",
    "site_customizer",
    "local_retain_days",
    "remote_retain_days",
    "local_prune_schedule",
    "remote_prune_schedule",
    "site_id",
    "schedule_backups",
    "type",
    "bup_schedule",
    "hour",
    "minute",
    "day",
    "service_id",
    "service_name",
    "service_user_id",
    "integrations",
    "integrated_service",
    "integration_name",
    "success",
    "data",
    "meta",
    "links",
    "current_page",
    "last_page",
    "total",
    "next",
    "local",
    "remote",
    "prune_schedule",
    "retain_days",
    "version",
    "accounts",
    "snapshot",
    "detail",
    "account",
    "fetched_at",
    "sites",
    "servers",
    "local",
    "schedule",
    "automatic",
];

/// JSON objects made of the keys the decoders know, with arbitrary values.
fn shaped_json() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(KEYS);
    leaf().prop_recursive(5, 128, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn check_all(body: &[u8]) {
    fn one<T: serde::de::DeserializeOwned + wire::Envelope>(ep: Endpoint, body: &[u8]) {
        if let Err(e) = decode::<T>(ep, body) {
            let message = e.to_string();
            assert!(!message.contains(MARK), "{message}");
            assert!(!e.reason().is_empty());
        }
    }
    one::<wire::Page<wire::Site>>(Endpoint::Sites, body);
    one::<wire::Page<wire::Server>>(Endpoint::Servers, body);
    one::<wire::SchedulesResponse>(Endpoint::Schedules, body);
    one::<wire::IntegrationsResponse>(Endpoint::BackupIntegrations, body);
    one::<wire::IntegrationsResponse>(Endpoint::SiteIntegrations, body);
    one::<wire::PruneScheduleResponse>(Endpoint::PruneSchedule, body);
    one::<wire::Single<wire::Site>>(Endpoint::Site, body);
    one::<wire::Single<wire::Server>>(Endpoint::Server, body);
    if let Err(e) = persist::parse(Path::new("state.json"), body) {
        let message = e.to_string();
        assert!(!message.contains(MARK), "{message}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check_all(&body);
    }

    #[test]
    fn arbitrary_json_never_panics_a_decoder(v in any_json()) {
        check_all(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn json_shaped_like_the_api_never_panics_a_decoder(v in shaped_json()) {
        check_all(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn every_prefix_of_a_valid_body_is_ok_or_err(cut in 0usize..2000) {
        let body = serde_json::to_vec(&json!({
            "success": true,
            "data": [{"id": 1, "url": "a.example", "server_id": "2", "local_bup": "1",
                      "site_customizer": {"local_retain_days": "07"}}],
            "meta": {"current_page": 1, "last_page": 1},
            "links": {"next": null}
        })).unwrap();
        check_all(&body[..cut.min(body.len())]);
    }

    #[test]
    fn site_lists_with_arbitrary_field_values_decode_or_fail_cleanly(
        sites in prop::collection::vec(
            prop::collection::btree_map(prop::sample::select(KEYS), leaf(), 0..10), 0..5)
    ) {
        let data: Vec<Value> = sites
            .into_iter()
            .map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
            .collect();
        check_all(&serde_json::to_vec(&json!({"data": data, "integrations": data})).unwrap());
    }
}

fn site_page(
    body: &str,
) -> Result<wire::Page<wire::Site>, gridpane_backup_exporter::gridpane::ApiError> {
    decode::<wire::Page<wire::Site>>(Endpoint::Sites, body.as_bytes())
}

#[test]
fn ids_that_do_not_fit_in_u64_are_decode_errors_naming_the_path() {
    for id in [
        "18446744073709551616",
        "\"18446744073709551616\"",
        "18446744073709551617",
        "1e20",
        "-1",
        "\"-1\"",
        "1.5",
        "\"1.5\"",
        "18446744073709551615.0",
        "9007199254740993.0",
    ] {
        let body = format!(r#"{{"data": [{{"id": 1, "url": "a"}}, {{"id": {id}, "url": "b"}}]}}"#);
        let err = site_page(&body).expect_err(id);
        assert_eq!(err.reason(), "decode", "{id}: {err}");
        assert!(err.to_string().contains("data[1].id"), "{id}: {err}");
    }
    // The largest id that fits, as a number or a string, is read exactly.
    for id in ["18446744073709551615", "\"18446744073709551615\""] {
        let body = format!(r#"{{"data": [{{"id": {id}, "url": "a"}}]}}"#);
        assert_eq!(site_page(&body).expect(id).data[0].id, u64::MAX);
    }
}

#[test]
fn ids_beyond_u64_never_merge_into_one_site() {
    let body = r#"{"data": [{"id": 18446744073709551616, "url": "a"}, {"id": 18446744073709551617, "url": "b"}]}"#;
    assert!(site_page(body).is_err());
}

#[test]
fn a_list_endpoint_answering_data_null_or_no_data_is_a_decode_error_not_an_empty_fleet() {
    for body in [r#"{"success": true, "data": null}"#, r#"{"success": true}"#] {
        let err = site_page(body).expect_err(body);
        assert_eq!(err.reason(), "decode", "{body}: {err}");
        let err =
            decode::<wire::Page<wire::Server>>(Endpoint::Servers, body.as_bytes()).expect_err(body);
        assert_eq!(err.reason(), "decode", "{body}: {err}");
        let err = decode::<wire::SchedulesResponse>(Endpoint::Schedules, body.as_bytes())
            .expect_err(body);
        assert_eq!(err.reason(), "decode", "{body}: {err}");
    }
    // An explicit empty list is a legitimate answer.
    assert!(
        site_page(r#"{"success": true, "data": []}"#)
            .unwrap()
            .data
            .is_empty()
    );
}

#[test]
fn a_twenty_megabyte_key_makes_a_short_escaped_decode_error() {
    // The key starts with a newline and an escape character, JSON-escaped.
    let key = format!("\\n\\u001b{}", "k".repeat(20 * 1024 * 1024));
    let body = format!(r#"{{"data": [{{"id": 1, "url": "a", "{key}": [1, 2"#);
    let message = site_page(&body).unwrap_err().to_string();
    assert!(message.len() < 300, "{} bytes", message.len());
    assert!(message.contains("data[0].\\n\\u{1b}kkk"), "{message}");
    assert!(!message.chars().any(char::is_control), "{message}");
}

#[test]
fn keys_of_an_integration_are_quoted_only_when_the_decoder_reads_them() {
    let body = r#"{"integrations": [{"id": 1, "AKIA-LOOKS-LIKE-A-KEY": {"secret": [1, "#;
    let err = decode::<wire::IntegrationsResponse>(Endpoint::BackupIntegrations, body.as_bytes())
        .unwrap_err();
    let message = err.to_string();
    assert!(!message.contains("AKIA"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    assert!(message.contains("integrations[0].<key>"), "{message}");

    let body = r#"{"integrations": [{"id": [], "token": "x"}]}"#;
    let err = decode::<wire::IntegrationsResponse>(Endpoint::BackupIntegrations, body.as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("integrations[0].id:"), "{err}");
}

// ------------------------------------------------------------ backup record

mod backup_record {
    use super::{MARK, any_json};
    use chrono::{FixedOffset, TimeZone, Utc};
    use gridpane_backup_exporter::gridpane::history::{self, BackupType, Source, Unreadable};
    use gridpane_backup_exporter::gridpane::shape;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    /// One backup as planted: minutes since 2020-01-01 UTC, its tag, its
    /// source and type, and how its list is written.
    #[derive(Clone, Debug)]
    struct Planted {
        minutes: u32,
        tag: Option<String>,
        source: Source,
        kind: BackupType,
    }

    const SOURCES: [Source; 5] = [
        Source::Local,
        Source::AwsS3,
        Source::Backblaze,
        Source::Dropbox,
        Source::Wasabi,
    ];

    /// After every planted name: 2030-01-01.
    const NOW: i64 = 1_893_456_000;

    fn planted() -> impl Strategy<Value = Planted> {
        (
            0u32..5_000_000,
            prop::option::of("[0-9A-Za-z][0-9A-Za-z-]{0,31}"),
            0usize..5,
            any::<bool>(),
        )
            .prop_map(|(minutes, tag, source, automatic)| Planted {
                minutes,
                tag,
                source: SOURCES[source],
                kind: if automatic {
                    BackupType::Automatic
                } else {
                    BackupType::Manual
                },
            })
    }

    fn at(p: &Planted) -> i64 {
        Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp()
            + i64::from(p.minutes) * 60
    }

    /// The name of `p` as written in `offset`.
    fn name(p: &Planted, offset: FixedOffset) -> String {
        let local = offset.timestamp_opt(at(p), 0).unwrap();
        let time = local.format("%Y-%m-%d %H:%M").to_string();
        match &p.tag {
            Some(tag) => format!("{time} {tag}"),
            None => time,
        }
    }

    /// The production shape holding every planted backup; each list written
    /// as `form` says: 0 a comma-separated string, 1 the same with spaces,
    /// 2 a list of strings, 3 a list of named objects.
    fn body(planted: &[Planted], offset: FixedOffset, form: u8, noise: &Value) -> Value {
        let mut backups = Map::new();
        for source in SOURCES {
            let mut kinds = Map::new();
            for kind in [BackupType::Automatic, BackupType::Manual] {
                let names: Vec<String> = planted
                    .iter()
                    .filter(|p| p.source == source && p.kind == kind)
                    .map(|p| name(p, offset))
                    .collect();
                let list = match form {
                    0 => json!(names.join(",")),
                    1 => json!(names.join(", ")),
                    2 => json!(names),
                    _ => Value::Array(
                        names
                            .iter()
                            .map(|n| json!({"name": n, "size": noise}))
                            .collect(),
                    ),
                };
                kinds.insert(kind.as_str().into(), list);
            }
            backups.insert(source.as_str().into(), Value::Object(kinds));
        }
        json!({ "success": true, "noise": noise, "backups": backups })
    }

    /// Values that are not names, some of them hostile, and none deep.
    fn noise() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            Just(json!({})),
            Just(json!([])),
            "[a-z ]{0,12}".prop_map(|s| json!(s)),
            Just(json!("2021-11-24 08:59")),
            Just(json!({"generated_at": "2021-11-24 08:59"})),
        ]
    }

    fn offset() -> impl Strategy<Value = FixedOffset> {
        (-12i32..=14, prop::sample::select(vec![0i32, 30, 45]))
            .prop_map(|(h, m)| FixedOffset::east_opt(h * 3600 + h.signum() * m * 60).unwrap())
    }

    fn read(v: &Value, offset: FixedOffset) -> Result<history::Found, Unreadable> {
        gridpane_backup_exporter::gridpane::record::read(
            &serde_json::to_vec(v).unwrap(),
            offset,
            NOW,
        )
    }

    proptest! {
        #[test]
        fn every_planted_name_is_found_with_its_source_type_and_time_zone_and_nothing_else(
            planted in prop::collection::vec(planted(), 0..12),
            form in 0u8..4,
            noise in noise(),
            offset in offset(),
        ) {
            let v = body(&planted, offset, form, &noise);
            let found = read(&v, offset).unwrap();
            let mut want: Vec<_> = planted
                .iter()
                .map(|p| (at(p), p.tag.clone(), Some(p.source), Some(p.kind)))
                .collect();
            want.sort();
            let mut got: Vec<_> = found
                .backups
                .iter()
                .map(|b| (b.at, b.tag.clone(), b.source, b.kind))
                .collect();
            got.sort();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn names_not_in_gridpanes_form_make_the_record_unreadable(
            bad in prop_oneof![
                Just("2021-13-01 00:00".to_string()),
                Just("2021-11-24 08:59:59".to_string()),
                Just("2021-11-24 08:59 tag with spaces".to_string()),
                Just("2021-11-24 08:59 tag_underscore".to_string()),
                Just(format!("2021-11-24 08:59 {}", "x".repeat(33))),
                Just("2021-11-24T08:59:00Z".to_string()),
                "[0-9]{9,11}",
            ],
            form in 0u8..4,
        ) {
            let planted = [Planted { minutes: 0, tag: None, source: Source::Local, kind: BackupType::Automatic }];
            let mut v = body(&planted, FixedOffset::east_opt(0).unwrap(), form, &Value::Null);
            let list = &mut v["backups"]["local"]["automatic"];
            match list {
                Value::String(s) => s.push_str(&format!(",{bad}")),
                Value::Array(items) if form == 2 => items.push(json!(bad)),
                Value::Array(items) => items.push(json!({"name": bad})),
                _ => unreachable!(),
            }
            prop_assert_eq!(read(&v, FixedOffset::east_opt(0).unwrap()), Err(Unreadable::BadName));
        }

        #[test]
        fn arbitrary_json_never_panics_the_reader_nor_reads_a_backup_from_anywhere_else(v in any_json()) {
            if let Ok(found) = read(&v, FixedOffset::east_opt(0).unwrap()) {
                // Only the production shape reads; names only where it puts them.
                prop_assert!(v.get("backups").is_some_and(|b| b.is_object() || b.as_array().is_some_and(|a| a.is_empty())));
                prop_assert!(found.backups.iter().all(|b| b.source.is_some() && b.kind.is_some()));
            }
            prop_assert!(!shape::describe(&v).contains(MARK));
        }

        #[test]
        fn tags_longer_than_32_characters_or_with_other_characters_are_not_names(
            tag in prop_oneof!["[A-Za-z0-9-]{1,40}", "[ -~]{1,40}"],
        ) {
            // Surrounding whitespace is trimmed off a name.
            prop_assume!(tag.trim() == tag);
            let name = format!("2021-11-24 08:59 {tag}");
            let valid = tag.len() <= 32 && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            let read = history::parse_name(&name, FixedOffset::east_opt(0).unwrap());
            prop_assert_eq!(read.is_some(), valid, "{}", name);
        }
    }

    #[test]
    fn deep_and_wide_bodies_stop_at_their_caps() {
        let mut deep = json!(["2021-11-24 08:59"]);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        let wrapped = json!({"success": true, "x": deep, "backups": {}});
        assert_eq!(
            read(&wrapped, FixedOffset::east_opt(0).unwrap()),
            Err(Unreadable::TooDeep)
        );

        let wide = json!({"success": true, "backups": {"local": {"automatic": vec!["2021-11-24 08:59"; 60_000]}}});
        assert_eq!(
            read(&wide, FixedOffset::east_opt(0).unwrap()),
            Err(Unreadable::TooLarge)
        );
    }
}
