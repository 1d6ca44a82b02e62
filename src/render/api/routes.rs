//! The API's routes as the answers know them: the list routes, whose
//! answers http/api.rs builds once and shares ([`build`]), and the index at
//! `/api/v1/` with every route and the parameters it takes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::filter::ParamError;
use super::integrations::{INTEGRATIONS_PARAMS, integrations};
use super::sites::{SCHEDULES_PARAMS, SITES_PARAMS, StorageEntry, schedules, sites};
use super::view::View;
use crate::render::metrics::VERSION;

/// A list route of the API: its answers can be large, and are shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListRoute {
    Sites,
    Schedules,
    Integrations,
}

/// A built list answer: the JSON and the earliest next run in it.
pub(crate) fn build(
    route: ListRoute,
    view: &View,
    query: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(serde_json::Result<Vec<u8>>, Option<i64>), ParamError> {
    fn earliest<'a>(entries: impl Iterator<Item = &'a StorageEntry>) -> Option<i64> {
        entries
            .filter_map(|e| e.schedule.as_ref()?.next_run_unix)
            .min()
    }
    Ok(match route {
        ListRoute::Sites => {
            let a = sites(view, query, now)?;
            let until = earliest(a.sites.iter().flat_map(|s| [&s.local, &s.remote]));
            (serde_json::to_vec(&a), until)
        }
        ListRoute::Schedules => {
            let a = schedules(view, query, now)?;
            let until = earliest(a.schedules.iter().map(|s| &s.entry));
            (serde_json::to_vec(&a), until)
        }
        ListRoute::Integrations => (serde_json::to_vec(&integrations(view, query)?), None),
    })
}

/// The API's index, at `/api/v1/`: its endpoints and their parameters.
#[derive(Debug, Serialize)]
pub(crate) struct IndexAnswer {
    pub version: &'static str,
    pub documentation: &'static str,
    pub endpoints: [IndexEntry; 4],
}

#[derive(Debug, Serialize)]
pub(crate) struct IndexEntry {
    pub path: &'static str,
    pub answers: &'static str,
    pub parameters: &'static [&'static str],
}

pub(crate) fn index() -> IndexAnswer {
    let entry = |path, answers, parameters| IndexEntry {
        path,
        answers,
        parameters,
    };
    IndexAnswer {
        version: VERSION,
        documentation: "docs/api.md in the exporter's source",
        endpoints: [
            entry(
                "/api/v1/status",
                "each account's polling state and site counts",
                &[],
            ),
            entry(
                "/api/v1/sites",
                "every site with its derived backup state",
                &SITES_PARAMS,
            ),
            entry(
                "/api/v1/schedules",
                "one entry per site and storage (local, remote)",
                &SCHEDULES_PARAMS,
            ),
            entry(
                "/api/v1/integrations",
                "the backup integrations, including the missing ones schedules point at",
                &INTEGRATIONS_PARAMS,
            ),
        ],
    }
}
