//! A metric family being built from labelled values: what the exposition's
//! renderers (snapshot, health, per-site detail) share.

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

/// A family being built.
pub(crate) struct Family(MetricFamily);

impl Family {
    pub(crate) fn new(name: &str, help: &str, kind: MetricType) -> Self {
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_string());
        mf.set_help(help.to_string());
        mf.set_field_type(kind);
        Family(mf)
    }

    pub(crate) fn gauge(name: &str, help: &str) -> Self {
        Family::new(name, help, MetricType::GAUGE)
    }

    pub(crate) fn counter(name: &str, help: &str) -> Self {
        Family::new(name, help, MetricType::COUNTER)
    }

    pub(crate) fn push(&mut self, labels: &[(&str, &str)], value: f64) {
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
        if self.0.get_field_type() == MetricType::COUNTER {
            let mut c = Counter::default();
            c.set_value(value);
            m.set_counter(c);
        } else {
            let mut g = Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
        self.0.mut_metric().push(m);
    }
}

pub(crate) fn finish(families: Vec<Family>) -> Vec<MetricFamily> {
    families
        .into_iter()
        .map(|f| f.0)
        .filter(|mf| !mf.get_metric().is_empty())
        .collect()
}
