//! `/api/v1/integrations`: the backup integrations of the accounts in
//! view, the missing ones schedules point at included, each with the status
//! the assessment gave it.

use serde::Serialize;

use super::filter::{ListQuery, ParamError};
use super::view::View;
use crate::domain::IntegrationStatus;

#[derive(Debug, Serialize)]
pub struct IntegrationsAnswer {
    pub count: usize,
    pub integrations: Vec<IntegrationEntry>,
}

#[derive(Debug, Serialize)]
pub struct IntegrationEntry {
    pub account: String,
    pub id: u64,
    pub name: Option<String>,
    pub provider: Option<String>,
    pub region: Option<String>,
    pub sites: usize,
    pub status: IntegrationStatus,
}

pub(crate) const INTEGRATIONS_PARAMS: [&str; 2] = ["account", "site_id"];

/// The backup integrations, including the missing ones schedules point at.
/// Filters: `account`, `site_id` (the integration that site's remote
/// schedule uses).
pub fn integrations(view: &View, raw: Option<&str>) -> Result<IntegrationsAnswer, ParamError> {
    let q = ListQuery::parse(view, raw, &INTEGRATIONS_PARAMS)?;
    let integrations: Vec<IntegrationEntry> = view
        .integration_rows()
        .iter()
        .filter(|r| q.filter.keeps_integration(view, r))
        .map(|r| IntegrationEntry {
            account: r.account.to_string(),
            id: r.id,
            name: r.integration.map(|i| i.name.clone()),
            provider: r.provider().map(str::to_string),
            region: r.integration.and_then(|i| i.region.clone()),
            sites: r.sites,
            status: r.status,
        })
        .collect();
    Ok(IntegrationsAnswer {
        count: integrations.len(),
        integrations,
    })
}
