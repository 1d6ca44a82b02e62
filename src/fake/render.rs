//! Routes and the JSON bodies the fake serves, built from a [`Fleet`].

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::drift::{self, SiteDrift};
use super::fleet::{FakeIntegration, FakeSchedule, FakeServer, FakeSite, Fleet};
use super::history;
use super::{FakeEndpoint, SECRET_SECRET_SENTINEL, SECRET_TOKEN_SENTINEL};

/// `meta.last_page` under [`super::Fault::EndlessPagination`].
pub(crate) const ENDLESS_LAST_PAGE: u64 = 1_000_000;

const API_PREFIX: &str = "/oauth/api/v1/";
const USER_ID: u64 = 1356;

/// A recognised request path. Ids that are not numbers make the path unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Sites,
    Servers,
    Domains,
    SiteDetail(u64),
    ServerDetail(u64),
    Schedules,
    SchedulesForSite(u64),
    SchedulesForServer(u64),
    BackupIntegrations,
    SiteIntegrations(u64),
    UserIntegrations,
    PruneSchedule(u64),
    BackupHistory(u64),
    BackupRefresh(u64),
}

impl Route {
    pub(crate) fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix(API_PREFIX)?;
        let segments: Vec<&str> = rest.split('/').collect();
        let id = |s: &str| s.parse::<u64>().ok();
        let route = match segments.as_slice() {
            ["site"] => Route::Sites,
            ["server"] => Route::Servers,
            ["domain"] => Route::Domains,
            ["site", n] => Route::SiteDetail(id(n)?),
            ["server", n] => Route::ServerDetail(id(n)?),
            ["backups", "schedules"] => Route::Schedules,
            ["backups", "schedules", "site", n] => Route::SchedulesForSite(id(n)?),
            ["backups", "schedules", "server", n] => Route::SchedulesForServer(id(n)?),
            ["backups", "integrations"] => Route::BackupIntegrations,
            ["backups", "integrations", n] => Route::SiteIntegrations(id(n)?),
            ["backups", "prune-schedule", n] => Route::PruneSchedule(id(n)?),
            ["backups", "original", n] => Route::BackupHistory(id(n)?),
            ["backups", "refresh", n] => Route::BackupRefresh(id(n)?),
            ["user", "integrations"] => Route::UserIntegrations,
            _ => return None,
        };
        Some(route)
    }

    pub(crate) fn endpoint(self) -> FakeEndpoint {
        match self {
            Route::Sites => FakeEndpoint::Sites,
            Route::Servers => FakeEndpoint::Servers,
            Route::Domains => FakeEndpoint::Domains,
            Route::SiteDetail(_) => FakeEndpoint::SiteDetail,
            Route::ServerDetail(_) => FakeEndpoint::ServerDetail,
            Route::Schedules | Route::SchedulesForSite(_) | Route::SchedulesForServer(_) => {
                FakeEndpoint::Schedules
            }
            Route::BackupIntegrations => FakeEndpoint::BackupIntegrations,
            Route::SiteIntegrations(_) => FakeEndpoint::SiteIntegrations,
            Route::UserIntegrations => FakeEndpoint::UserIntegrations,
            Route::PruneSchedule(_) => FakeEndpoint::PruneSchedule,
            Route::BackupHistory(_) => FakeEndpoint::BackupHistory,
            Route::BackupRefresh(_) => FakeEndpoint::BackupRefresh,
        }
    }
}

/// `page` and `per_page` as a Laravel paginator would read them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paging {
    pub page: u64,
    pub per_page: usize,
    /// Whether the request named a usable `per_page`; if so, the links keep it.
    pub per_page_given: bool,
}

impl Paging {
    /// Invalid or missing values fall back to page 1 and the default size;
    /// sizes above `max_per_page` are clamped.
    pub(crate) fn from_query(query: &str, default_per_page: usize, max_per_page: usize) -> Paging {
        let mut page = 1;
        let mut per_page = None;
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "page" => {
                    page = value
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|p| *p >= 1)
                        .unwrap_or(1)
                }
                "per_page" => per_page = value.trim().parse::<usize>().ok().filter(|n| *n >= 1),
                _ => {}
            }
        }
        let max = max_per_page.max(1);
        Paging {
            page,
            per_page: per_page.unwrap_or(default_per_page).clamp(1, max),
            per_page_given: per_page.is_some(),
        }
    }
}

/// The status and body for a route, or 404 for an unknown id. `base` is the
/// fake's own base URL, used in pagination links.
pub(crate) fn render(
    fleet: &Fleet,
    base: &str,
    route: Route,
    paging: Paging,
    endless: bool,
) -> (u16, Value) {
    let path = format!("{base}{}", route_path(route));
    let mut body = match route {
        Route::Sites => {
            let (data, links, meta) = paginate(
                &fleet.sites,
                |s| site_json(fleet, s),
                paging,
                &path,
                endless,
            );
            json!({ "data": data, "links": links, "meta": meta })
        }
        Route::Servers => {
            // Each server lists its sites: index them once per page, not
            // once per server (a scan of 100k sites for each of 4k servers).
            let mut on_server: HashMap<u64, Vec<&FakeSite>> = HashMap::new();
            for site in &fleet.sites {
                on_server.entry(site.server_id).or_default().push(site);
            }
            let (data, links, meta) = paginate(
                &fleet.servers,
                |s| server_json(s, on_server.get(&s.id).map_or(&[], Vec::as_slice)),
                paging,
                &path,
                endless,
            );
            json!({ "data": data, "links": links, "meta": meta })
        }
        Route::Domains => {
            let (domains, links, meta) = paginate(
                &fleet.sites,
                |s| domain_json(fleet, s),
                paging,
                &path,
                endless,
            );
            json!({
                "data": { "domains": domains, "constants": domain_constants() },
                "links": links,
                "meta": meta,
            })
        }
        Route::SiteDetail(id) => match fleet.site(id) {
            Some(site) => wrap_detail(id, site_detail_json(fleet, site)),
            None => return not_found(),
        },
        Route::ServerDetail(id) => match fleet.server(id) {
            Some(server) => {
                let on_server: Vec<&FakeSite> =
                    fleet.sites.iter().filter(|s| s.server_id == id).collect();
                wrap_detail(id, server_json(server, &on_server))
            }
            None => return not_found(),
        },
        Route::Schedules => schedules_json(fleet, |_| true),
        Route::SchedulesForSite(id) => match fleet.site(id) {
            Some(_) => schedules_json(fleet, |s| s.id == id),
            None => return not_found(),
        },
        Route::SchedulesForServer(id) => match fleet.server(id) {
            Some(_) => schedules_json(fleet, |s| s.server_id == id),
            None => return not_found(),
        },
        Route::BackupIntegrations => json!({
            "success": true,
            "message": "Backup integrations retrieved successfully.",
            "integrations": fleet.integrations.iter().map(backup_integration_json).collect::<Vec<_>>(),
        }),
        Route::SiteIntegrations(id) => match fleet.site(id) {
            Some(site) => site_integrations_json(fleet, site),
            None => return not_found(),
        },
        Route::UserIntegrations => user_integrations_json(fleet),
        Route::PruneSchedule(id) => match fleet.site(id) {
            Some(site) => prune_schedule_json(site),
            None => return not_found(),
        },
        Route::BackupHistory(id) => match fleet.site(id) {
            Some(site) => {
                history::history_json(site, fleet.history_shape, history::history_now(fleet))
            }
            None => return not_found(),
        },
        Route::BackupRefresh(id) => match fleet.site(id) {
            Some(_) => history::refresh_json(),
            None => return not_found(),
        },
    };
    let paginated = matches!(route, Route::Sites | Route::Servers | Route::Domains);
    if endless && !paginated {
        let (links, meta) = links_meta(&path, paging, 1, ENDLESS_LAST_PAGE, true);
        insert(&mut body, "links", links);
        insert(&mut body, "meta", meta);
    }
    (200, body)
}

pub(crate) fn not_found() -> (u16, Value) {
    (404, json!({ "message": "Not found" }))
}

fn route_path(route: Route) -> String {
    let tail = match route {
        Route::Sites => "site".to_owned(),
        Route::Servers => "server".to_owned(),
        Route::Domains => "domain".to_owned(),
        Route::SiteDetail(id) => format!("site/{id}"),
        Route::ServerDetail(id) => format!("server/{id}"),
        Route::Schedules => "backups/schedules".to_owned(),
        Route::SchedulesForSite(id) => format!("backups/schedules/site/{id}"),
        Route::SchedulesForServer(id) => format!("backups/schedules/server/{id}"),
        Route::BackupIntegrations => "backups/integrations".to_owned(),
        Route::SiteIntegrations(id) => format!("backups/integrations/{id}"),
        Route::UserIntegrations => "user/integrations".to_owned(),
        Route::PruneSchedule(id) => format!("backups/prune-schedule/{id}"),
        Route::BackupHistory(id) => format!("backups/original/{id}"),
        Route::BackupRefresh(id) => format!("backups/refresh/{id}"),
    };
    format!("{API_PREFIX}{tail}")
}

// ---------------------------------------------------------------- pagination

/// One page of `items`, rendered with `item`, plus Laravel's `links` and
/// `meta`. A page beyond the last has no items. With `endless` every page
/// holds page 1's items and `meta.last_page` is [`ENDLESS_LAST_PAGE`].
fn paginate<T>(
    items: &[T],
    item: impl Fn(&T) -> Value,
    p: Paging,
    path: &str,
    endless: bool,
) -> (Vec<Value>, Value, Value) {
    let per_page = p.per_page as u64;
    let (shown_page, total, last_page) = if endless {
        (
            1,
            ENDLESS_LAST_PAGE.saturating_mul(per_page),
            ENDLESS_LAST_PAGE,
        )
    } else {
        let total = items.len() as u64;
        (p.page, total, total.div_ceil(per_page).max(1))
    };
    let offset = usize::try_from((shown_page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(p.per_page)
        .map(item)
        .collect();
    let (links, meta) = links_meta(path, p, page.len(), last_page, endless);
    let meta = with(meta, "total", json!(total));
    (page, links, meta)
}

/// `links` and `meta` (without `total`, which only lists know) for page `p.page`
/// holding `count` items.
fn links_meta(
    path: &str,
    p: Paging,
    count: usize,
    last_page: u64,
    endless: bool,
) -> (Value, Value) {
    let url = |page: u64| {
        if p.per_page_given {
            format!("{path}?per_page={}&page={page}", p.per_page)
        } else {
            format!("{path}?page={page}")
        }
    };
    let prev = (p.page > 1).then(|| url(p.page - 1));
    let next = (endless || p.page < last_page).then(|| url(p.page.saturating_add(1)));
    let (from, to) = if count == 0 {
        (Value::Null, Value::Null)
    } else {
        let from = (p.page - 1)
            .saturating_mul(p.per_page as u64)
            .saturating_add(1);
        (json!(from), json!(from.saturating_add(count as u64 - 1)))
    };

    let mut meta_links = vec![json!({ "url": prev, "label": "&laquo; Previous", "active": false })];
    let window: Vec<Option<u64>> = if last_page <= 10 {
        (1..=last_page).map(Some).collect()
    } else {
        (1..=8)
            .map(Some)
            .chain([None, Some(last_page - 1), Some(last_page)])
            .collect()
    };
    for n in window {
        meta_links.push(match n {
            Some(n) => json!({ "url": url(n), "label": n.to_string(), "active": n == p.page }),
            None => json!({ "url": null, "label": "...", "active": false }),
        });
    }
    meta_links.push(json!({ "url": next, "label": "Next &raquo;", "active": false }));

    let links = json!({ "first": url(1), "last": url(last_page), "prev": prev, "next": next });
    let meta = json!({
        "current_page": p.page,
        "from": from,
        "last_page": last_page,
        "links": meta_links,
        "path": path,
        "per_page": p.per_page,
        "to": to,
    });
    (links, meta)
}

// ------------------------------------------------------------------ entities

fn insert(v: &mut Value, key: &str, value: Value) {
    if let Some(map) = v.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    insert(&mut v, key, value);
    v
}

fn merge(v: &mut Value, extra: Value) {
    if let (Some(map), Value::Object(extra)) = (v.as_object_mut(), extra) {
        map.extend(extra);
    }
}

fn wrap_detail(id: u64, item: Value) -> Value {
    if drift::detail_as_array(id) {
        json!({ "data": [item] })
    } else {
        json!({ "data": item })
    }
}

/// "YYYY-MM-DD HH:MM:SS", derived from an id.
fn plain_time(id: u64) -> String {
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        2022 + id % 3,
        1 + id % 12,
        1 + id % 28,
        id % 24,
        (id / 3) % 60,
        (id / 7) % 60
    )
}

/// Laravel's ISO-8601 with microseconds, derived from an id: a creation
/// time in 2021..=2023 or, `updated`, a later one in 2024..=2026.
fn iso_time(id: u64, updated: bool) -> String {
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.000000Z",
        if updated { 2024 } else { 2021 } + id % 3,
        1 + (id / 5) % 12,
        1 + (id / 3) % 28,
        (id / 11) % 24,
        (id / 13) % 60,
        id % 60
    )
}

fn system_user_id(site_id: u64) -> u64 {
    100_000 + site_id % 900_000
}

fn region_label(region: &str) -> &'static str {
    match region {
        "nyc1" => "New York 1",
        "ams3" => "Amsterdam 3",
        "fra1" => "Frankfurt 1",
        "sfo3" => "San Francisco 3",
        "lon1" => "London 1",
        "sgp1" => "Singapore 1",
        _ => "Unknown",
    }
}

/// A server and the sites on it, in fleet order.
fn server_json(s: &FakeServer, on_server: &[&FakeSite]) -> Value {
    let flag = |b| drift::server_bool(s.id, b);
    let sites: Vec<Value> = on_server
        .iter()
        .map(|site| json!({ "id": site.id, "url": site.url }))
        .collect();
    let system_users: Vec<Value> = on_server
        .iter()
        .map(|site| json!({ "id": system_user_id(site.id), "username": format!("user{}", site.id % 10_000) }))
        .collect();
    json!({
        "id": s.id,
        "label": s.label,
        "ip": s.ip,
        "region": s.region,
        "region_label": region_label(&s.region),
        "sub_id": (s.id.wrapping_mul(7919) % 1_000_000_000).to_string(),
        "subdomain": format!("{}-{:x}.gridpanevps.com", s.label, s.id % 4096),
        "webserver": if s.id % 3 == 0 { "openlitespeed" } else { "nginx" },
        "database": if s.id % 2 == 0 { "percona" } else { "mariadb" },
        "os_version": "22.04",
        "status": "active",
        "update_backups": flag(s.backups_v2),
        "user_id": USER_ID,
        "provider_id": 2,
        "failover_id": null,
        "cpu": 2,
        "ram": 4096,
        "is_preemptive_support_on": 0,
        "beta_server": flag(false),
        "created_at": iso_time(s.id, false),
        "sites": sites,
        "system_users": system_users,
        "provider": {
            "id": 2,
            "name": "digitalocean",
            "full_name": "DigitalOcean",
            "logo_path": "/img/providers/digitalocean.svg",
        },
    })
}

fn site_json(fleet: &Fleet, s: &FakeSite) -> Value {
    let d = SiteDrift::of(s.id);
    let server = fleet.server(s.server_id).map_or(Value::Null, |srv| {
        json!({
            "id": srv.id,
            "label": srv.label,
            "ip": srv.ip,
            "region": srv.region,
            "update_backups": d.bool(srv.backups_v2),
            "status": "active",
        })
    });
    let ssl_status = match s.id % 7 {
        0 => json!("failed"),
        1 => Value::Null,
        _ => json!("succeed"),
    };
    let php_version = match s.id % 4 {
        0 => "7.4",
        1 => "8.1",
        2 => "8.2",
        _ => "8.3",
    };
    let mut customizer = json!({
        "id": 900_000 + s.id % 100_000,
        "site_id": s.id,
        "is_creating_local_backups_started": d.bool(false),
        "local_prune_schedule": d.num(u64::from(s.local_prune_schedule)),
        "local_retain_days": d.num(u64::from(s.local_retain_days)),
        "remote_prune_schedule": d.num(u64::from(s.remote_prune_schedule)),
        "remote_retain_days": d.num(u64::from(s.remote_retain_days)),
        "waf": if s.id % 2 == 0 { json!("6g") } else { Value::Null },
        "redis_object_cache": d.bool(s.id % 3 == 0),
    });
    let mut site = json!({
        "id": s.id,
        "url": s.url,
        "server_id": d.num(s.server_id),
        "system_user_id": system_user_id(s.id),
        "user_id": USER_ID,
        "type": s.site_type,
        "php_version": php_version,
        "ssl_status": ssl_status,
        "is_ssl": d.bool(s.id % 7 > 1),
        "resolved_at": plain_time(s.id),
        "local_bup": d.bool(s.local_bup),
        "remote_bup": d.bool(s.remote_bup),
        "local_bup_threshold": d.threshold(s.id),
        "nginx_caching": if s.id % 3 == 0 { "redis" } else { "fastcgi" },
        "staging_enabled": d.bool(false),
        "created_at": iso_time(s.id, false),
        "updated_at": iso_time(s.id / 2 + 17, true),
        "deleted_at": null,
        "server": server,
    });
    if let Some((top, inner)) = d.site_extras() {
        merge(&mut site, top);
        merge(&mut customizer, inner);
    }
    with(site, "site_customizer", customizer)
}

fn site_detail_json(fleet: &Fleet, s: &FakeSite) -> Value {
    let row = |sch: &FakeSchedule, kind: &str| {
        json!({
            "id": sch.id,
            "site_id": s.id,
            "type": kind,
            "service_id": sch.service_id,
            "service_name": sch.service_name,
            "service_user_id": sch.integration_id,
            "bup_schedule": sch.frequency.as_str(),
            "hour": format!("{:02}", sch.hour),
            "minute": format!("{:02}", sch.minute),
            "day": sch.day.map(|d| d.to_string()),
            "created_at": iso_time(sch.id, false),
            "updated_at": iso_time(sch.id / 3, true),
        })
    };
    let schedules: Vec<Value> = s
        .local_schedule
        .iter()
        .map(|sch| row(sch, "local"))
        .chain(s.remote_schedule.iter().map(|sch| row(sch, "remote")))
        .collect();
    let services: Vec<Value> = s
        .remote_schedule
        .iter()
        .filter_map(|sch| {
            let (service_id, user_id) = (sch.service_id?, sch.integration_id?);
            Some(json!({
                "id": service_id,
                "name": sch.service_name,
                "pivot": {
                    "site_id": s.id,
                    "service_id": service_id,
                    "id": 9_000 + sch.id % 100_000,
                    "status": if s.remote_bup { "active" } else { "inactive" },
                    "service_user_id": user_id,
                },
            }))
        })
        .collect();
    let site = with(site_json(fleet, s), "schedule_backups", json!(schedules));
    with(site, "vpsServices", json!(services))
}

/// One row of `schedule_backups` in `/backups/schedules`, with the drift of
/// [`drift::day_absent`] and [`drift::local_service_user_id_absent`].
fn schedule_row(sch: &FakeSchedule, kind: &str) -> Value {
    let mut row = Map::new();
    row.insert("id".into(), json!(sch.id));
    row.insert("type".into(), json!(kind));
    row.insert("bup_schedule".into(), json!(sch.frequency.as_str()));
    row.insert("hour".into(), json!(format!("{:02}", sch.hour)));
    row.insert("minute".into(), json!(format!("{:02}", sch.minute)));
    match sch.day {
        Some(day) => {
            row.insert("day".into(), json!(day.to_string()));
        }
        None if !drift::day_absent(sch.id) => {
            row.insert("day".into(), Value::Null);
        }
        None => {}
    }
    row.insert("service_id".into(), json!(sch.service_id));
    row.insert("service_name".into(), json!(sch.service_name));
    match sch.integration_id {
        Some(id) => {
            row.insert("service_user_id".into(), json!(id));
        }
        None if !drift::local_service_user_id_absent(sch.id) => {
            row.insert("service_user_id".into(), Value::Null);
        }
        None => {}
    }
    Value::Object(row)
}

/// A site without schedule rows is left out when its id is even and sent
/// with an empty `schedule_backups` when it is odd.
fn schedules_json(fleet: &Fleet, keep: impl Fn(&FakeSite) -> bool) -> Value {
    let data: Vec<Value> = fleet
        .sites
        .iter()
        .filter(|s| keep(s))
        .filter_map(|s| {
            let rows: Vec<Value> = s
                .local_schedule
                .iter()
                .map(|sch| schedule_row(sch, "local"))
                .chain(
                    s.remote_schedule
                        .iter()
                        .map(|sch| schedule_row(sch, "remote")),
                )
                .collect();
            if rows.is_empty() && s.id % 2 == 0 {
                return None;
            }
            Some(json!({
                "server_id": s.server_id,
                "site_id": s.id,
                "url": s.url,
                "schedule_backups": rows,
            }))
        })
        .collect();
    json!({ "success": true, "data": data })
}

fn backup_integration_json(i: &FakeIntegration) -> Value {
    json!({
        "id": i.id,
        "integrated_service": i.provider,
        "integration_name": i.name,
        "token": SECRET_TOKEN_SENTINEL,
        "secret_token": SECRET_SECRET_SENTINEL,
        "region": i.region,
    })
}

/// `GET /backups/integrations/{site_id}`. The real body is unknown; this is
/// the third-party guess `{success, integrations[]}` holding the integration
/// the site's remote schedule points at, if it still exists.
fn site_integrations_json(fleet: &Fleet, s: &FakeSite) -> Value {
    let attached: Vec<Value> = s
        .remote_schedule
        .iter()
        .filter_map(|sch| fleet.integration(sch.integration_id?))
        .map(backup_integration_json)
        .collect();
    json!({ "success": true, "integrations": attached })
}

/// `GET /user/integrations`: a Cloudflare DNS item and a Vultr cloud item
/// (with their own key sets) followed by the backup integrations.
fn user_integrations_json(fleet: &Fleet) -> Value {
    let mut items = vec![
        json!({
            "id": 2367,
            "dns_provider_id": 2,
            "integrated_service": "cloudflare",
            "integration_name": "Jedi of Kashyyyk Minor",
            "token": SECRET_TOKEN_SENTINEL,
            "secret_token": SECRET_SECRET_SENTINEL,
            "nameserver": null,
            "challenge_domain": null,
        }),
        json!({
            "id": 1156,
            "service_id": 1,
            "integrated_service": "vultr",
            "integration_name": "Bounty Hunter of Mandalore",
            "token": SECRET_TOKEN_SENTINEL,
            "secret_token": null,
            "region": null,
        }),
    ];
    items.extend(fleet.integrations.iter().map(|i| {
        json!({
            "id": i.id,
            "service_id": i.service_id,
            "integrated_service": i.provider,
            "integration_name": i.name,
            "token": SECRET_TOKEN_SENTINEL,
            "secret_token": SECRET_SECRET_SENTINEL,
            "region": i.region,
        })
    }));
    json!({ "success": true, "user_id": USER_ID, "integrations": items })
}

/// `GET /backups/prune-schedule/{site_id}`. Nobody has published a real body;
/// this is a guess that reuses the vocabulary of the PUT body and of
/// `site_customizer`:
/// `{"success": true, "data": {"local": {"prune_schedule", "retain_days"}, "remote": {...}}}`.
fn prune_schedule_json(s: &FakeSite) -> Value {
    json!({
        "success": true,
        "data": {
            "local": { "prune_schedule": s.local_prune_schedule, "retain_days": s.local_retain_days },
            "remote": { "prune_schedule": s.remote_prune_schedule, "retain_days": s.remote_retain_days },
        },
    })
}

fn domain_json(fleet: &Fleet, s: &FakeSite) -> Value {
    let cloudflare = s.id % 3 == 0;
    let route = match s.id % 3 {
        0 => "none",
        1 => "www",
        _ => "root",
    };
    json!({
        "id": 1_200_000 + s.id % 1_000_000,
        "url": s.url,
        "route": route,
        "type": "primary",
        "dns_management_id": if cloudflare { json!(2367) } else { Value::Null },
        "creds_need_updating": false,
        "is_ssl": s.id % 7 > 1,
        "ssl_status": if s.id % 7 > 1 { json!("succeed") } else { Value::Null },
        "dns_connection_type": if cloudflare { "full" } else { "none" },
        "site_id": s.id,
        "user_id": USER_ID,
        "identify_code": format!("{:x}", s.id.wrapping_mul(2_654_435_761) % 0xffff_ffff),
        "server_id": fleet.server(s.server_id).map(|srv| srv.id),
        "resolved_at": plain_time(s.id),
        "status": "active",
        "is_wildcard": false,
        "created_at": iso_time(s.id, false),
        "updated_at": iso_time(s.id / 2 + 17, true),
        "deleted_at": null,
        "primary_is_staging": false,
        "primary_staging_enabled": false,
        "primary_canary_enabled": false,
        "user_dns": if cloudflare {
            json!({ "id": 2367, "integration_name": "Jedi of Kashyyyk Minor", "provider": { "id": 2, "name": "cloudflare" } })
        } else {
            Value::Null
        },
    })
}

fn domain_constants() -> Value {
    json!({
        "type": ["primary", "alias", "redirect", "wildcard", "staging", "canary"],
        "routing": ["none", "www", "root"],
        "integration": { "cloudflare": "Cloudflare", "dnsme": "DNS Made Easy" },
        "dns": ["none", "cloudflare", "dnsme"],
    })
}
