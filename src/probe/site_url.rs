//! From a snapshot id to the site's URL as GridPane lists it, the label the
//! probe's series share with the exporter's `gridpane_site_info{site_url}`.
//!
//! A snapshot id is `gridpane-<server uuid>-<site url>`; the prefix is
//! removed. GridPane's knowledge base shows the URL part both as it is
//! (`example.com`) and with its dots turned into dashes (`example-com`).
//! The dashed form cannot be turned back by itself (`my-site-com` could be
//! `my-site.com` or `my.site.com`), so a URL part without a dot is matched
//! against the URLs the monitoring log names (written with their dots): if
//! exactly one of them, dots turned into dashes, equals it, that URL is the
//! site's. Otherwise the URL part is kept as it is (and
//! `snapshot_id` always carries the folder's own name).

use std::collections::HashMap;

/// Maps the URL part of snapshot ids to site URLs.
pub struct SiteUrls {
    /// Dashed form to dotted URL; `None` where two URLs share a dashed form.
    dashed: HashMap<String, Option<String>>,
}

impl SiteUrls {
    /// From the URLs the monitoring log names.
    pub fn new<'a>(known: impl IntoIterator<Item = &'a str>) -> Self {
        let mut dashed: HashMap<String, Option<String>> = HashMap::new();
        for url in known.into_iter().filter(|u| u.contains('.')) {
            let key = url.replace('.', "-");
            dashed
                .entry(key)
                .and_modify(|v| {
                    if v.as_deref() != Some(url) {
                        *v = None;
                    }
                })
                .or_insert_with(|| Some(url.to_owned()));
        }
        SiteUrls { dashed }
    }

    /// The site URL of `snapshot_id` on the server with `uuid`.
    pub fn of(&self, snapshot_id: &str, uuid: &str) -> String {
        let prefix = format!("gridpane-{uuid}-");
        let rest = snapshot_id
            .strip_prefix(&prefix)
            .filter(|r| !r.is_empty())
            .unwrap_or(snapshot_id);
        if !rest.contains('.') {
            if let Some(Some(url)) = self.dashed.get(rest) {
                return url.clone();
            }
        }
        rest.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "3f2b1c9e-aaaa-4bbb-8ccc-0123456789ab";

    #[test]
    fn the_prefix_is_removed_and_a_dotted_url_kept() {
        let urls = SiteUrls::new([]);
        let id = format!("gridpane-{UUID}-example.com");
        assert_eq!(urls.of(&id, UUID), "example.com");
        // Another server's prefix, or none: the id is kept whole.
        assert_eq!(
            urls.of("gridpane-other-x.com", UUID),
            "gridpane-other-x.com"
        );
        assert_eq!(urls.of("foobar-com", UUID), "foobar-com");
    }

    #[test]
    fn a_dashed_url_takes_the_dots_of_the_one_log_url_it_matches() {
        let urls = SiteUrls::new(["my-site.com", "shop.example.org"]);
        let id = |rest: &str| format!("gridpane-{UUID}-{rest}");
        assert_eq!(urls.of(&id("my-site-com"), UUID), "my-site.com");
        assert_eq!(urls.of(&id("shop-example-org"), UUID), "shop.example.org");
        // Unknown to the log: kept dashed.
        assert_eq!(urls.of(&id("other-net"), UUID), "other-net");
        // Two log URLs with the same dashed form: not guessed.
        let ambiguous = SiteUrls::new(["my-site.com", "my.site.com"]);
        assert_eq!(ambiguous.of(&id("my-site-com"), UUID), "my-site-com");
    }
}
