//! The type drift the fake serves. Everything that varies in *encoding*
//! (not in meaning) between sites or servers is decided here.
//!
//! - Sites: [`SiteDrift::of`] picks one of five encodings from `site_id % 5`.
//!   Generated site ids run through every last digit, so any five
//!   neighbouring sites show all five.
//! - Servers: an odd id sends `update_backups` (and the other flags) as `1`/`0`.
//! - Single resources: [`detail_as_array`] picks `data: {}` or `data: [{}]` by id parity.
//! - Schedules: see [`day_absent`] and [`local_service_user_id_absent`].

use serde_json::{Value, json};

/// How one site's booleans and numbers are encoded in `/site`, `/site/{id}`
/// and the embedded `server` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SiteDrift {
    /// `true`/`false`, numbers as numbers.
    Plain,
    /// Booleans as `1`/`0`.
    IntBools,
    /// Booleans as `"1"`/`"0"`; `server_id`, retain days, prune schedules and
    /// the threshold as strings (`"33046"`, `"30"`).
    StringNumbers,
    /// Booleans as `"true"`/`"false"`.
    StringBools,
    /// `local_bup_threshold` null and unknown extra fields at both levels.
    NullsAndExtras,
}

impl SiteDrift {
    /// The encoding the fake uses for this site.
    pub(crate) fn of(site_id: u64) -> SiteDrift {
        match site_id % 5 {
            0 => SiteDrift::Plain,
            1 => SiteDrift::IntBools,
            2 => SiteDrift::StringNumbers,
            3 => SiteDrift::StringBools,
            _ => SiteDrift::NullsAndExtras,
        }
    }

    pub(crate) fn bool(self, b: bool) -> Value {
        match self {
            SiteDrift::IntBools => json!(u8::from(b)),
            SiteDrift::StringNumbers => json!(if b { "1" } else { "0" }),
            SiteDrift::StringBools => json!(if b { "true" } else { "false" }),
            SiteDrift::Plain | SiteDrift::NullsAndExtras => json!(b),
        }
    }

    pub(crate) fn num(self, n: u64) -> Value {
        match self {
            SiteDrift::StringNumbers => json!(n.to_string()),
            _ => json!(n),
        }
    }

    pub(crate) fn threshold(self, site_id: u64) -> Value {
        let pct = 10 * (1 + site_id % 3);
        match self {
            SiteDrift::NullsAndExtras => Value::Null,
            _ => self.num(pct),
        }
    }

    /// Fields the exporter has never seen; clients must ignore them.
    pub(crate) fn site_extras(self) -> Option<(Value, Value)> {
        (self == SiteDrift::NullsAndExtras).then(|| {
            (
                json!({
                    "backups_v3_preview": { "enabled": false, "engine": "restic", "since": null },
                    "tags": ["client-a", "retainer"],
                    "local_bup_size_mb": "1532.7"
                }),
                json!({ "remote_bup_bandwidth_limit": null, "local_bup_exclusions": [] }),
            )
        })
    }
}

/// Servers with an odd id send their flags as `1`/`0`.
pub(crate) fn server_bool(server_id: u64, b: bool) -> Value {
    if server_id % 2 == 1 {
        json!(u8::from(b))
    } else {
        json!(b)
    }
}

/// For hourly and daily schedules `day` is `null` when the schedule id is
/// even and missing altogether when it is odd.
pub(crate) fn day_absent(schedule_id: u64) -> bool {
    schedule_id % 2 == 1
}

/// Local schedules send `service_user_id: null` when the schedule id is
/// divisible by 3 and leave the key out otherwise (as the one real sample does).
pub(crate) fn local_service_user_id_absent(schedule_id: u64) -> bool {
    schedule_id % 3 != 0
}

/// `GET /server/{id}` and `GET /site/{id}` wrap the object as `{"data": {...}}`
/// for an even id and as `{"data": [{...}]}` for an odd one.
pub(crate) fn detail_as_array(id: u64) -> bool {
    id % 2 == 1
}
