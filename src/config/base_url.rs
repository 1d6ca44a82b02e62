//! GridPane and S3 base URLs: parsed and checked (http or https, a host,
//! no credentials, no query string), GridPane's API root dropped where it
//! was given, and quoted in messages without what may be secret.

use url::Url;

/// The path of GridPane's API under its host, which the client adds.
pub(super) const API_ROOT_PATH: &str = "/oauth/api/v1";

/// GridPane's docs show the API root (`https://my.gridpane.com/oauth/api/v1`)
/// where the exporter wants the host: the URL without that path, if it ends
/// with it.
pub(super) fn without_api_root(url: &Url) -> Option<Url> {
    let path = url.path().trim_end_matches('/');
    let prefix = path.strip_suffix(API_ROOT_PATH)?;
    let mut host = url.clone();
    host.set_path(&format!("{prefix}/"));
    Some(host)
}

pub(super) fn parse_base_url(raw: &str) -> Result<Url, String> {
    let shown = without_secrets(raw);
    let url = Url::parse(raw.trim()).map_err(|e| format!("invalid URL \"{shown}\": {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "invalid URL \"{shown}\": scheme must be http or https"
        ));
    }
    if url.host_str().is_none() {
        return Err(format!("invalid URL \"{shown}\": no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "invalid URL \"{shown}\": credentials (user:password@) are not allowed; the token authenticates"
        ));
    }
    if url.query().is_some() {
        return Err(format!("invalid URL \"{shown}\": no query string allowed"));
    }
    Ok(url)
}

/// A URL as given, for messages: credentials before the host and the query
/// string replaced by `<redacted>`, since either may hold a secret.
pub(super) fn without_secrets(raw: &str) -> String {
    let start = raw.find("://").map_or(0, |i| i + 3);
    let (scheme, rest) = raw.split_at_checked(start).unwrap_or(("", raw));
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest.get(..host_end).and_then(|host| host.rfind('@')) {
        Some(at) => format!("<redacted>{}", rest.get(at..).unwrap_or_default()),
        None => rest.to_string(),
    };
    match rest.split_once('?') {
        Some((before, _)) => format!("{scheme}{before}?<redacted>"),
        None => format!("{scheme}{rest}"),
    }
}

/// True when the URL points at this machine (tests, the demo).
pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
