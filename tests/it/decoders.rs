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
    use gridpane_backup_exporter::gridpane::history::{self, BackupType, Source};
    use gridpane_backup_exporter::gridpane::shape;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    /// One backup as planted: minutes since 2020-01-01 UTC, its tag, and
    /// what the body says of it.
    #[derive(Clone, Debug)]
    struct Planted {
        minutes: u32,
        tag: Option<String>,
        source: Option<Source>,
        kind: Option<BackupType>,
        /// 0: grouped under source and type keys; 1: an object with
        /// fields; 2: a key of a map whose value qualifies it.
        placement: u8,
    }

    const SOURCES: [Source; 5] = [
        Source::Local,
        Source::AwsS3,
        Source::Backblaze,
        Source::Dropbox,
        Source::Wasabi,
    ];

    fn planted() -> impl Strategy<Value = Planted> {
        (
            0u32..5_000_000,
            // Tags that start with a digit are never a source or type word.
            prop::option::of("[0-9][0-9A-Za-z]{0,31}"),
            prop::option::of(0usize..5),
            prop::option::of(any::<bool>()),
            0u8..3,
        )
            .prop_map(|(minutes, tag, source, automatic, placement)| Planted {
                minutes,
                tag,
                source: source.map(|i| SOURCES[i]),
                kind: automatic.map(|a| {
                    if a {
                        BackupType::Automatic
                    } else {
                        BackupType::Manual
                    }
                }),
                placement,
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

    fn entry(map: &mut Map<String, Value>, key: &str) -> Value {
        map.remove(key).unwrap_or_else(|| json!({}))
    }

    /// A body holding every planted backup, wrapped in `wrappers` (true: an
    /// object key, false: a one-item list) and mixed with `noise`.
    fn body(planted: &[Planted], offset: FixedOffset, wrappers: &[bool], noise: &Value) -> Value {
        let mut root = Map::new();
        root.insert("noise".into(), noise.clone());
        for p in planted {
            let n = name(p, offset);
            let src = p.source.map_or("misc", Source::as_str);
            let kind = p.kind.map(BackupType::as_str);
            match p.placement {
                0 => {
                    let mut by_source = entry(&mut root, src);
                    let lists = by_source.as_object_mut().unwrap();
                    let list = lists
                        .entry(kind.unwrap_or("all"))
                        .or_insert_with(|| json!([]));
                    list.as_array_mut().unwrap().push(json!(n));
                    root.insert(src.into(), by_source);
                }
                1 => {
                    let mut item = Map::new();
                    item.insert("name".into(), json!(n));
                    if let Some(s) = p.source {
                        item.insert("source".into(), json!(s.as_str()));
                    }
                    if let Some(k) = kind {
                        item.insert("backup_type".into(), json!(k));
                    }
                    let list = root.entry("list").or_insert_with(|| json!([]));
                    list.as_array_mut().unwrap().push(Value::Object(item));
                }
                _ => {
                    let mut qualifiers = Map::new();
                    if let Some(s) = p.source {
                        qualifiers.insert("source".into(), json!(s.as_str()));
                    }
                    if let Some(k) = kind {
                        qualifiers.insert("type".into(), json!(k));
                    }
                    let keyed = root.entry("by_name").or_insert_with(|| json!({}));
                    keyed
                        .as_object_mut()
                        .unwrap()
                        .insert(n, Value::Object(qualifiers));
                }
            }
        }
        let mut v = Value::Object(root);
        for object in wrappers {
            v = if *object {
                json!({ "data": v })
            } else {
                json!([v])
            };
        }
        json!({ "success": true, "result": v })
    }

    /// Scalars that are never backup names, some of them hostile.
    fn noise() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            Just(json!({})),
            Just(json!([])),
            "[a-z ]{0,12}".prop_map(|s| json!(s)),
            Just(json!("2021-13-01 00:00")),
            Just(json!("2021-11-24 08:59:59")),
            Just(json!("2021-11-24 08:59 tag with spaces")),
            Just(json!("2021-11-24 08:59 tag_underscore")),
            Just(json!(format!("2021-11-24 08:59 {}", "x".repeat(33)))),
            Just(json!("2021-11-24 08:59 ünïcode")),
            Just(json!("2021-11-24T08:59:00Z")),
        ]
    }

    fn offset() -> impl Strategy<Value = FixedOffset> {
        (-12i32..=14, prop::sample::select(vec![0i32, 30, 45]))
            .prop_map(|(h, m)| FixedOffset::east_opt(h * 3600 + h.signum() * m * 60).unwrap())
    }

    proptest! {
        #[test]
        fn every_planted_name_is_found_once_with_its_source_type_and_time_zone(
            planted in prop::collection::vec(planted(), 1..12),
            duplicate in any::<bool>(),
            wrappers in prop::collection::vec(any::<bool>(), 0..5),
            noise in noise(),
            offset in offset(),
        ) {
            let mut planted = planted;
            if duplicate {
                // The same backup listed twice in the same way.
                let again = planted[0].clone();
                planted.push(again);
            }
            let v = body(&planted, offset, &wrappers, &noise);
            let found = history::read(&v, offset).unwrap();
            let mut want: Vec<_> = planted
                .iter()
                .map(|p| (at(p), p.tag.clone(), p.source, p.kind))
                .collect();
            want.sort();
            want.dedup();
            let mut got: Vec<_> = found
                .backups
                .iter()
                .map(|b| (b.at, b.tag.clone(), b.source, b.kind))
                .collect();
            got.sort();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn hostile_or_malformed_names_are_never_backups_and_make_an_unknown_shape(
            noise in prop::collection::vec(noise(), 1..6),
        ) {
            let v = json!({ "success": true, "backups": { "local": noise } });
            let has_content = v["backups"]["local"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| !(n.is_null() || n == &json!({}) || n == &json!([])));
            match history::read(&v, FixedOffset::east_opt(0).unwrap()) {
                Ok(found) => {
                    prop_assert!(found.backups.is_empty());
                    prop_assert!(!has_content, "content read as no backups");
                }
                Err(e) => prop_assert!(has_content, "{}", e.shape),
            }
        }

        #[test]
        fn arbitrary_json_never_panics_the_reader_and_its_shape_quotes_no_value(v in any_json()) {
            if let Err(e) = history::read(&v, FixedOffset::east_opt(0).unwrap()) {
                prop_assert!(!e.shape.contains(MARK), "{}", e.shape);
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
    fn deep_and_wide_bodies_are_read_within_their_caps() {
        let mut deep = json!(["2021-11-24 08:59"]);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        let found = history::read(&deep, FixedOffset::east_opt(0).unwrap());
        assert!(
            matches!(found, Err(ref e) if !e.shape.is_empty()),
            "{found:?}"
        );

        let wide = Value::Array(vec![json!("2021-11-24 08:59"); 300_000]);
        let found = history::read(&wide, FixedOffset::east_opt(0).unwrap()).unwrap();
        assert_eq!(found.backups.len(), 1, "one backup listed many times");
        assert!(found.truncated);
    }
}
