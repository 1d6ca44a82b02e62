//! The response shapes of the GridPane endpoints the exporter reads, as far
//! as `shared/gridpane-api.md` knows them. Only the fields the exporter uses
//! are declared; everything else is ignored. Provider credentials (`token`,
//! `secret_token`) have no field here, so they are never held.

use serde::Deserialize;

use super::lenient::{self, Keyword};

/// Laravel pagination envelope of `/site` and `/server`.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub success: Option<bool>,
    #[serde(deserialize_with = "lenient::list")]
    pub data: Vec<T>,
    #[serde(default)]
    pub links: Option<Links>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

impl<T> Page<T> {
    /// The envelope marks this page as the last: `meta.current_page` at or
    /// past `meta.last_page`, or `links.next` present and null.
    pub(crate) fn marked_last(&self) -> bool {
        let by_meta = matches!(&self.meta, Some(Meta { current_page: Some(c), last_page: Some(l), .. }) if c >= l);
        let by_links = matches!(&self.links, Some(Links { next: Some(None) }));
        by_meta || by_links
    }

    /// `meta` says more pages follow this one.
    pub(crate) fn marked_more(&self) -> bool {
        matches!(&self.meta, Some(Meta { current_page: Some(c), last_page: Some(l), .. }) if c < l)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Links {
    /// `Some(None)` when the key is present and null: the last page.
    #[serde(default, deserialize_with = "present_or_null")]
    pub next: Option<Option<String>>,
}

fn present_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(lenient::loose_string(d)?))
}

#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub current_page: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub last_page: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub total: Option<u64>,
}

/// An item of `GET /server`.
#[derive(Clone, Debug, Deserialize)]
pub struct Server {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::loose_string")]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "lenient::loose_string")]
    pub region: Option<String>,
    /// `true` when the server runs Backups V2 (Duplicacy).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub update_backups: Option<bool>,
}

/// The `server` object nested in a site.
#[derive(Clone, Debug, Deserialize)]
pub struct ServerRef {
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
}

/// Retention settings carried by a site.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SiteCustomizer {
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub local_prune_schedule: Option<u32>,
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub local_retain_days: Option<u32>,
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub remote_prune_schedule: Option<u32>,
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub remote_retain_days: Option<u32>,
}

/// An item of `GET /site`.
#[derive(Clone, Debug, Deserialize)]
pub struct Site {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(deserialize_with = "lenient::string")]
    pub url: String,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub server_id: Option<u64>,
    /// `primary`, `staging`...; anything else is kept as it is.
    #[serde(rename = "type", default, deserialize_with = "lenient::loose_string")]
    pub site_type: Option<String>,
    /// `None` when absent, `null`, `""` or neither on nor off: the site's
    /// storage is then not understood (`schedule_unreadable`).
    #[serde(default, deserialize_with = "lenient::loose_bool")]
    pub local_bup: Option<bool>,
    #[serde(default, deserialize_with = "lenient::loose_bool")]
    pub remote_bup: Option<bool>,
    #[serde(default)]
    pub server: Option<ServerRef>,
    #[serde(default)]
    pub site_customizer: Option<SiteCustomizer>,
}

/// `GET /backups/schedules` (and its `/server/{id}`, `/site/{id}` variants):
/// the same envelope as `/site`, usually in one response.
pub type SchedulesResponse = Page<SiteSchedules>;

#[derive(Clone, Debug, Deserialize)]
pub struct SiteSchedules {
    #[serde(deserialize_with = "lenient::id")]
    pub site_id: u64,
    /// The site's URL and server: enough to show a site before its `/site`
    /// record is read.
    #[serde(default, deserialize_with = "lenient::loose_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub server_id: Option<u64>,
    /// Rows that are not objects are dropped; a row's odd values are facts
    /// about its site, never an error of the whole list.
    #[serde(default, deserialize_with = "lenient::rows_or_null")]
    pub schedule_backups: Vec<Schedule>,
}

/// One backup schedule row. There is no enabled flag in the API. Every
/// field reads leniently: a bad row makes its site `schedule_unreadable`,
/// never the account's poll fail.
#[derive(Clone, Debug, Deserialize)]
pub struct Schedule {
    /// `None` when absent or not an id.
    #[serde(default, deserialize_with = "lenient::loose_id")]
    pub id: Option<u64>,
    /// `local` or `remote`; a row of another type is not read.
    #[serde(rename = "type", default, deserialize_with = "lenient::loose_keyword")]
    pub storage: Keyword,
    /// `hourly`, `daily`, `weekly` or `monthly`; empty when absent.
    #[serde(default, deserialize_with = "lenient::loose_keyword")]
    pub bup_schedule: Keyword,
    #[serde(default, deserialize_with = "lenient::field_u32")]
    pub hour: lenient::Field,
    #[serde(default, deserialize_with = "lenient::field_u32")]
    pub minute: lenient::Field,
    #[serde(default, deserialize_with = "lenient::field_u32")]
    pub day: lenient::Field,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub service_id: Option<u64>,
    #[serde(default, deserialize_with = "lenient::loose_string")]
    pub service_name: Option<String>,
    /// The integration the remote schedule uploads to.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub service_user_id: Option<u64>,
}

/// `GET /backups/integrations` and `GET /backups/integrations/{site_id}`.
#[derive(Debug, Deserialize)]
pub struct IntegrationsResponse {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub success: Option<bool>,
    #[serde(deserialize_with = "lenient::vec_or_null")]
    pub integrations: Vec<Integration>,
}

/// The keys of [`Integration`]: the only keys of an integration object a
/// decode error may quote (the others may be credentials).
pub(crate) const INTEGRATION_FIELDS: [&str; 4] =
    ["id", "integrated_service", "integration_name", "region"];

/// A backup integration, without its credentials.
#[derive(Clone, Debug, Deserialize)]
pub struct Integration {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::loose_string")]
    pub integrated_service: Option<String>,
    #[serde(default, deserialize_with = "lenient::loose_string")]
    pub integration_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::loose_string")]
    pub region: Option<String>,
}

/// `GET /backups/prune-schedule/{site_id}`: the body has never been seen, so
/// this reads any of the plausible shapes and keeps only what it recognises.
#[derive(Debug, Default, Deserialize)]
pub struct PruneScheduleResponse {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub success: Option<bool>,
    #[serde(default)]
    pub data: Option<PruneSchedules>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PruneSchedules {
    #[serde(default)]
    pub local: Option<PruneSetting>,
    #[serde(default)]
    pub remote: Option<PruneSetting>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PruneSetting {
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub prune_schedule: Option<u32>,
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub retain_days: Option<u32>,
}

/// A single resource (`GET /site/{id}`, `GET /server/{id}`): the API has
/// been seen to wrap it as `{"data": {...}}` and as `{"data": [{...}]}`.
#[derive(Debug)]
pub struct Single<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Single<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrList<T> {
            One(T),
            List(Vec<T>),
        }
        #[derive(Deserialize)]
        #[serde(bound(deserialize = "T: Deserialize<'de>"))]
        struct Wrapped<T> {
            data: OneOrList<T>,
        }
        match Wrapped::<T>::deserialize(d)?.data {
            OneOrList::One(item) => Ok(Single(item)),
            OneOrList::List(items) => {
                let mut items = items.into_iter();
                match (items.next(), items.next()) {
                    (Some(item), None) => Ok(Single(item)),
                    (None, _) => Err(serde::de::Error::custom("data is an empty list")),
                    (Some(_), Some(_)) => Err(serde::de::Error::custom(
                        "data lists several items where one was expected",
                    )),
                }
            }
        }
    }
}

/// Any JSON body, kept whole: the backup record, whose shape is not known,
/// and what `inspect` describes.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct AnyBody(pub serde_json::Value);

impl Envelope for AnyBody {
    fn unsuccessful(&self) -> bool {
        self.0.get("success").and_then(serde_json::Value::as_bool) == Some(false)
    }
}

/// Something that may carry `success: false` inside a 200.
pub trait Envelope {
    fn unsuccessful(&self) -> bool;
}

impl Envelope for IntegrationsResponse {
    fn unsuccessful(&self) -> bool {
        self.success == Some(false)
    }
}
impl Envelope for PruneScheduleResponse {
    fn unsuccessful(&self) -> bool {
        self.success == Some(false)
    }
}
impl<T> Envelope for Single<T> {
    fn unsuccessful(&self) -> bool {
        false
    }
}
impl<T> Envelope for Page<T> {
    fn unsuccessful(&self) -> bool {
        self.success == Some(false)
    }
}
