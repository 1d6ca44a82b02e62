//! Series of the per-site detail (`poll.detail.enabled`): how old each
//! site's detail is, how many integrations are attached to it, and failed
//! detail fetches. Nothing is rendered while detail is off.

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::store::AccountState;

fn family(name: &str, help: &str, kind: MetricType) -> MetricFamily {
    let mut mf = MetricFamily::default();
    mf.set_name(name.to_string());
    mf.set_help(help.to_string());
    mf.set_field_type(kind);
    mf
}

fn push(mf: &mut MetricFamily, labels: &[(&str, &str)], value: f64) {
    let pairs = labels
        .iter()
        .map(|(k, v)| {
            let mut lp = LabelPair::default();
            lp.set_name((*k).to_string());
            lp.set_value((*v).to_string());
            lp
        })
        .collect();
    let mut m = Metric::from_label(pairs);
    if mf.get_field_type() == MetricType::COUNTER {
        let mut c = Counter::default();
        c.set_value(value);
        m.set_counter(c);
    } else {
        let mut g = Gauge::default();
        g.set_value(value);
        m.set_gauge(g);
    }
    mf.mut_metric().push(m);
}

/// The detail families of every account, at `now_unix`.
pub fn detail_families(accounts: &[(&str, &AccountState)], now_unix: f64) -> Vec<MetricFamily> {
    let mut age = family(
        "gridpane_site_detail_age_seconds",
        "Seconds since the per-site detail (prune schedule, attached integrations) of this site was fetched; absent for sites not yet detailed.",
        MetricType::GAUGE,
    );
    let mut attached = family(
        "gridpane_site_backup_integrations",
        "Remote backup integrations attached to the site, from the per-site detail.",
        MetricType::GAUGE,
    );
    let mut errors = family(
        "gridpane_site_detail_errors_total",
        "Per-site detail fetches that failed, by reason.",
        MetricType::COUNTER,
    );
    for (account, state) in accounts {
        let a = *account;
        if let Some(snap) = &state.snapshot {
            for site in &snap.sites {
                let Some(d) = state.detail.get(&site.id) else {
                    continue;
                };
                let id = site.id.to_string();
                let labels = [("account", a), ("site_id", id.as_str())];
                push(&mut age, &labels, (now_unix - d.fetched_at).max(0.0));
                push(&mut attached, &labels, d.integration_ids.len() as f64);
            }
        }
        for (reason, n) in &state.counters.detail_errors {
            push(
                &mut errors,
                &[("account", a), ("reason", reason)],
                *n as f64,
            );
        }
    }
    [age, attached, errors]
        .into_iter()
        .filter(|mf| !mf.get_metric().is_empty())
        .collect()
}
