//! Which site a snapshot id is a backup of. GridPane's snapshot ids hold the
//! site's URL in one of two forms, with or without the server's UUID in
//! front: `gridpane-<uuid>-example.com`, `example-com` (dots turned into
//! dashes). Matching ignores case. An id whose dashed form fits several
//! sites (`my-site.com` and `my.site.com` both dash to `my-site-com`) is
//! ambiguous and proves nothing; the dotted form matches one URL exactly.

use std::collections::HashMap;

/// What one snapshot id matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// The site at this index of the list the matcher was built from.
    Site(usize),
    /// Several sites fit it.
    Ambiguous,
    /// No current site: a backup of a deleted site, or of another account.
    Orphan,
}

/// Site URLs, indexed for matching snapshot ids.
#[derive(Debug, Default)]
pub struct Matcher {
    /// Lowercased URL -> site index (`None`: several sites).
    dotted: HashMap<String, Option<usize>>,
    /// Lowercased URL with dots turned into dashes -> site index.
    dashed: HashMap<String, Option<usize>>,
}

impl Matcher {
    /// `urls`: each site's URL, in site order.
    pub fn new<'a>(urls: impl IntoIterator<Item = &'a str>) -> Matcher {
        let mut m = Matcher::default();
        for (index, url) in urls.into_iter().enumerate() {
            let Some((dotted, dashed)) = forms(url) else {
                continue;
            };
            for (map, key) in [(&mut m.dotted, dotted), (&mut m.dashed, dashed)] {
                map.entry(key)
                    .and_modify(|seen| {
                        if *seen != Some(index) {
                            *seen = None;
                        }
                    })
                    .or_insert(Some(index));
            }
        }
        m
    }

    /// The site a snapshot id is a backup of.
    pub fn find(&self, snapshot_id: &str) -> Match {
        let id = snapshot_id.to_ascii_lowercase();
        let (url, dotted) = url_of(&id);
        let found = if dotted {
            self.dotted.get(url)
        } else {
            self.dashed.get(url)
        };
        match found {
            Some(Some(index)) => Match::Site(*index),
            Some(None) => Match::Ambiguous,
            None => Match::Orphan,
        }
    }
}

/// Every site a snapshot id fits (indices into `urls`, in order): for an
/// id [`Matcher::find`] calls ambiguous, the sites it could be a backup of.
/// Reads every URL: for a look at a bucket, not for each listing.
pub fn candidates<'a>(snapshot_id: &str, urls: impl IntoIterator<Item = &'a str>) -> Vec<usize> {
    let id = snapshot_id.to_ascii_lowercase();
    let (url, dotted) = url_of(&id);
    urls.into_iter()
        .enumerate()
        .filter(|(_, site)| {
            forms(site).is_some_and(|(d, dashed)| if dotted { d == url } else { dashed == url })
        })
        .map(|(index, _)| index)
        .collect()
}

/// A site URL's two forms, lowercased: as it is, and with dots turned into
/// dashes. `None` for an empty URL.
fn forms(url: &str) -> Option<(String, String)> {
    let dotted = url.trim().to_ascii_lowercase();
    if dotted.is_empty() {
        return None;
    }
    let dashed = dotted.replace('.', "-");
    Some((dotted, dashed))
}

/// The URL part of a lowercased snapshot id, and whether it is the dotted
/// form (which names one URL exactly) rather than the dashed one.
fn url_of(id: &str) -> (&str, bool) {
    let url = without_server_prefix(id);
    (url, url.contains('.'))
}

/// `gridpane-<uuid>-rest` -> `rest`; anything else as it is. The UUID is
/// the canonical 8-4-4-4-12 hexadecimal form.
fn without_server_prefix(id: &str) -> &str {
    let Some(rest) = id.strip_prefix("gridpane-") else {
        return id;
    };
    let Some((uuid, url)) = rest.split_at_checked(36) else {
        return id;
    };
    let canonical = uuid.char_indices().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == '-',
        _ => c.is_ascii_hexdigit(),
    });
    match (canonical, url.strip_prefix('-')) {
        (true, Some(url)) if !url.is_empty() => url,
        _ => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "876ac0ab-690f-4067-bdb6-9b2eec41b5d1";

    #[test]
    fn an_id_matches_its_site_in_either_form_whatever_the_case() {
        let m = Matcher::new(["example.com", "Other.ORG"]);
        assert_eq!(
            m.find(&format!("gridpane-{UUID}-example.com")),
            Match::Site(0)
        );
        assert_eq!(m.find("example-com"), Match::Site(0));
        assert_eq!(m.find("EXAMPLE-COM"), Match::Site(0));
        assert_eq!(
            m.find(&format!("GRIDPANE-{}-other.org", UUID.to_uppercase())),
            Match::Site(1)
        );
        assert_eq!(
            m.find(&format!("gridpane-{UUID}-other-org")),
            Match::Site(1)
        );
        assert_eq!(m.find("other-org"), Match::Site(1));
    }

    #[test]
    fn an_id_that_fits_several_sites_is_ambiguous_never_a_match() {
        let m = Matcher::new(["my-site.com", "my.site.com"]);
        assert_eq!(m.find("my-site-com"), Match::Ambiguous);
        // The dotted form names one URL exactly.
        assert_eq!(
            m.find(&format!("gridpane-{UUID}-my.site.com")),
            Match::Site(1)
        );
        assert_eq!(
            m.find(&format!("gridpane-{UUID}-my-site.com")),
            Match::Site(0)
        );
    }

    #[test]
    fn an_id_no_site_fits_is_an_orphan() {
        let m = Matcher::new(["example.com"]);
        assert_eq!(m.find("deleted-com"), Match::Orphan);
        assert_eq!(
            m.find(&format!("gridpane-{UUID}-deleted.com")),
            Match::Orphan
        );
        // A prefix that is not a UUID stays part of the id.
        assert_eq!(m.find("gridpane-nope-example.com"), Match::Orphan);
        assert_eq!(m.find(""), Match::Orphan);
    }

    #[test]
    fn the_candidates_of_an_ambiguous_id_are_every_site_it_fits() {
        let urls = ["my-site.com", "other.org", "My.Site.com"];
        let m = Matcher::new(urls);
        assert_eq!(m.find("my-site-com"), Match::Ambiguous);
        assert_eq!(candidates("my-site-com", urls), vec![0, 2]);
        assert_eq!(
            candidates(&format!("gridpane-{UUID}-MY-SITE-COM"), urls),
            vec![0, 2]
        );
        assert_eq!(candidates("my.site.com", urls), vec![2]);
        assert_eq!(candidates("other-org", urls), vec![1]);
        assert!(candidates("deleted-com", urls).is_empty());
    }

    #[test]
    fn two_sites_with_one_url_are_ambiguous() {
        let m = Matcher::new(["example.com", "EXAMPLE.com"]);
        assert_eq!(m.find("example-com"), Match::Ambiguous);
        assert_eq!(m.find("example.com"), Match::Ambiguous);
    }
}
