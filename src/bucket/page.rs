//! A ListObjectsV2 answer, read for the two fields the listing needs per
//! object (Key, LastModified) and the next page's token. rusty-s3's own
//! parser wants every object's ETag, which not every S3-compatible server
//! sends; this one reads the same document with the same XML crate
//! (instant-xml) and ignores the rest.

use instant_xml::FromXml;
use percent_encoding::percent_decode_str;

const S3_XML_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

#[derive(Debug, FromXml)]
#[xml(rename = "ListBucketResult", ns(S3_XML_NS))]
struct ListBucketResult {
    contents: Vec<Contents>,
    #[xml(rename = "NextContinuationToken")]
    next_continuation_token: Option<String>,
    #[xml(rename = "EncodingType")]
    encoding_type: Option<String>,
}

#[derive(Debug, FromXml)]
#[xml(rename = "Contents", ns(S3_XML_NS))]
struct Contents {
    #[xml(rename = "Key")]
    key: String,
    #[xml(rename = "LastModified")]
    last_modified: String,
}

/// Each key of a page with its LastModified as S3 wrote it.
pub(crate) type Keys = Vec<(String, String)>;

/// One page: its keys, and the token of the next page. `None`: not a
/// ListObjectsV2 document.
pub(crate) fn parse(text: &str) -> Option<(Keys, Option<String>)> {
    let parsed: ListBucketResult = instant_xml::from_str(text).ok()?;
    // The request asks for `encoding-type=url` (rusty-s3 always does):
    // keys then come percent-encoded.
    let encoded = parsed.encoding_type.as_deref() == Some("url");
    let keys = parsed
        .contents
        .into_iter()
        .map(|c| {
            let key = match encoded {
                true => percent_decode_str(&c.key)
                    .decode_utf8()
                    .map_or(c.key.clone(), |k| k.into_owned()),
                false => c.key,
            };
            (key, c.last_modified)
        })
        .collect();
    Some((
        keys,
        parsed.next_continuation_token.filter(|t| !t.is_empty()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_without_etags_reads_with_its_keys_decoded() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType><Contents><Key>snapshots/a%20b/1</Key><LastModified>2026-11-20T03:00:00.000Z</LastModified><Size>550</Size></Contents><Contents><Key>snapshots/c/2</Key><LastModified>x</LastModified><ETag>"e"</ETag></Contents><NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"#;
        let (keys, next) = parse(xml).unwrap();
        assert_eq!(
            keys[0],
            ("snapshots/a b/1".into(), "2026-11-20T03:00:00.000Z".into())
        );
        assert_eq!(keys[1].0, "snapshots/c/2");
        assert_eq!(next.as_deref(), Some("tok"));
    }

    #[test]
    fn what_is_not_a_listing_is_refused() {
        assert!(parse("<ListBucketResult><Contents><Key>x<").is_none());
        assert!(parse("<Error><Code>AccessDenied</Code></Error>").is_none());
        assert!(parse("").is_none());
    }
}
