//! The fake's bucket: a ListObjectsV2 answer at `/<DEMO_BUCKET>` on the
//! fake's own server, so that `--demo` shows the proof from the bucket
//! without credentials (any signature is accepted). Each site with remote
//! backups on has three revisions, under either id form, except every
//! seventh (none: a missing copy) and every eleventh (ten days old: a
//! stale one); one id belongs to no site (an orphan).

use super::fleet::Fleet;

/// The demo's bucket name.
pub const DEMO_BUCKET: &str = "gridpane-backups-876ac0ab-690f-4067-bdb6-9b2eec41b";
const UUID: &str = "876ac0ab-690f-4067-bdb6-9b2eec41b5d1";

/// The whole listing of the demo bucket at `now` (unix seconds), one page.
pub(crate) fn listing(fleet: &Fleet, now: i64) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    );
    let mut key = |id: &str, revision: u32, at: i64| {
        let when = chrono::DateTime::from_timestamp(at, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            "<Contents><Key>snapshots/{id}/{revision}</Key><LastModified>{when}</LastModified><ETag>\"d41d8cd98f00b204e9800998ecf8427e\"</ETag><Size>550</Size></Contents>"
        ));
    };
    for (i, site) in fleet.sites.iter().enumerate() {
        if !site.remote_bup || site.remote_schedule.is_none() || i % 7 == 3 {
            continue;
        }
        let id = match i % 2 {
            0 => site.url.to_ascii_lowercase().replace('.', "-"),
            _ => format!("gridpane-{UUID}-{}", site.url.to_ascii_lowercase()),
        };
        let newest = if i % 11 == 5 {
            now - 10 * 86_400
        } else {
            now - 3_600
        };
        for r in 0..3u32 {
            key(&id, 100 + r, newest - i64::from(2 - r) * 86_400);
        }
    }
    key("deleted-site-example", 7, now - 90 * 86_400);
    out.push_str("<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>");
    out
}
