//! `--web.config.file`: TLS and basic auth, in the Prometheus
//! exporter-toolkit format, so that the same file works for every exporter
//! on a host.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/exporter/tls.crt
//!   key_file: /etc/exporter/tls.key
//!   min_version: TLS12
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! basic_auth_users:
//!   prometheus: $2y$10$...   # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! Every key of the toolkit is accepted; the few this exporter cannot honour
//! (`cipher_suites`, `curve_preferences`, `client_allowed_sans`,
//! `client_auth_type: RequestClientCert | RequireAnyClientCert`, TLS 1.0 and
//! 1.1, `rate_limit`) are refused with an error that says so, rather than
//! ignored. Unknown keys are errors. Every error is one line naming the file
//! and the key.
//!
//! Its parts: `tls_server_config` (`web/tls.rs`) and `basic_auth_users`
//! (`web/basic_auth.rs`); this file reads the file, the headers and the
//! errors.

mod basic_auth;
mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use figment::Figment;
use figment::providers::{Format as _, Yaml};
use serde::Deserialize;

pub use basic_auth::BasicAuth;
use tls::{RawTls, tls_config};

/// A web configuration error: one line naming the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WebConfigError(String);

impl WebConfigError {
    fn at(file: &Path, key: &str, message: impl std::fmt::Display) -> Self {
        WebConfigError(format!("{}: key \"{key}\": {message}", file.display()))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    /// A toolkit key this exporter does not implement.
    #[serde(default)]
    rate_limit: Option<figment::value::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    /// Accepted for compatibility; the exporter serves HTTP/1.1.
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// Response headers the toolkit lets a web config set, with the values it
/// allows (`None`: any value).
const ALLOWED_HEADERS: [(&str, Option<&[&str]>); 5] = [
    ("Strict-Transport-Security", None),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-XSS-Protection", None),
    ("Content-Security-Policy", None),
];

/// The validated web configuration.
#[derive(Clone)]
pub struct WebConfig {
    pub path: PathBuf,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub auth: Option<Arc<BasicAuth>>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Client certificates are verified (`VerifyClientCertIfGiven`,
    /// `RequireAndVerifyClientCert`): their subjects can be users.
    pub client_certificates: bool,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .field(
                "basic_auth_users",
                &self.auth.as_ref().map(|a| a.users.len()),
            )
            .field("headers", &self.headers.len())
            .finish()
    }
}

impl WebConfig {
    /// One line for `--config.check` and the start-up log.
    pub fn summary(&self) -> String {
        format!(
            "web config {}: TLS {}, basic auth {}",
            self.path.display(),
            if self.tls.is_some() { "on" } else { "off" },
            match &self.auth {
                Some(a) => format!("on ({} user(s))", a.users.len()),
                None => "off".to_string(),
            }
        )
    }
}

/// Reads and validates a web configuration file, including the certificate
/// and key it names.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        WebConfigError(format!(
            "cannot read web config file {}: {e}",
            path.display()
        ))
    })?;
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        Figment::from(Yaml::string(&text))
            .extract()
            .map_err(|e| figment_error(path, e))?
    };
    if raw.rate_limit.is_some() {
        return Err(WebConfigError::at(
            path,
            "rate_limit",
            "not supported by this exporter",
        ));
    }
    let client_certificates = raw
        .tls_server_config
        .as_ref()
        .is_some_and(RawTls::verifies_client_certificates);
    let tls = match raw.tls_server_config {
        Some(t) => tls_config(path, t)?,
        None => None,
    };
    let headers = match raw.http_server_config {
        Some(h) => {
            let _ = h.http2;
            headers(path, h.headers.unwrap_or_default())?
        }
        None => Vec::new(),
    };
    let auth = match raw.basic_auth_users {
        Some(users) if !users.is_empty() => Some(Arc::new(BasicAuth::new(path, users)?)),
        _ => None,
    };
    Ok(WebConfig {
        path: path.to_path_buf(),
        tls,
        auth,
        headers,
        client_certificates,
    })
}

fn figment_error(path: &Path, e: figment::Error) -> WebConfigError {
    let key = e.path.join(".");
    let kind = crate::config::describe_kind(&e.kind);
    if key.is_empty() {
        WebConfigError(format!("{}: {kind}", path.display()))
    } else {
        WebConfigError::at(path, &key, kind)
    }
}

fn headers(
    path: &Path,
    raw: BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, WebConfigError> {
    let mut out = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let key = format!("http_server_config.headers.{name}");
        let Some((_, allowed)) = ALLOWED_HEADERS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        else {
            return Err(WebConfigError::at(
                path,
                &key,
                "this header cannot be configured (Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)",
            ));
        };
        if let Some(values) = allowed {
            if !values.iter().any(|v| v.eq_ignore_ascii_case(value.trim())) {
                return Err(WebConfigError::at(
                    path,
                    &key,
                    format!("value must be one of {}", values.join(", ")),
                ));
            }
        }
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| WebConfigError::at(path, &key, e))?;
        let value = HeaderValue::from_str(&value).map_err(|e| WebConfigError::at(path, &key, e))?;
        out.push((header, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn err(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "web.yml", text);
        load(&p).unwrap_err().to_string()
    }

    #[test]
    fn an_empty_file_means_plain_http_without_auth() {
        let dir = tempfile::tempdir().unwrap();
        let c = load(&write(&dir, "web.yml", "")).unwrap();
        assert!(c.tls.is_none() && c.auth.is_none() && c.headers.is_empty());
    }

    #[test]
    fn unknown_keys_are_one_line_errors_naming_file_and_key() {
        let e = err("tls_server_config:\n  cert_fil: x\n");
        assert!(e.contains("web.yml") && e.contains("cert_fil"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        let e = err("basic_auth_user:\n  a: b\n");
        assert!(e.contains("basic_auth_user"), "{e}");
    }

    #[test]
    fn toolkit_keys_this_exporter_cannot_honour_are_refused_by_name() {
        for (yaml, key) in [
            (
                "tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
                "cipher_suites",
            ),
            (
                "tls_server_config:\n  client_allowed_sans: [a]\n",
                "client_allowed_sans",
            ),
            ("rate_limit:\n  interval: 1s\n", "rate_limit"),
        ] {
            let e = err(yaml);
            assert!(e.contains(key) && e.contains("not supported"), "{e}");
        }
    }

    #[test]
    fn a_certificate_without_a_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = write(&dir, "tls.crt", "not really a certificate");
        let web = write(
            &dir,
            "web.yml",
            &format!("tls_server_config:\n  cert_file: {}\n", cert.display()),
        );
        let e = load(&web).unwrap_err().to_string();
        assert!(e.contains("key_file") && e.contains("missing"), "{e}");
        let e = err(
            "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n",
        );
        assert!(e.contains("cert_file") && e.contains("cannot read"), "{e}");
    }

    #[test]
    fn users_need_bcrypt_hashes() {
        let e = err("basic_auth_users:\n  alice: plaintext\n");
        assert!(
            e.contains("basic_auth_users.alice") && e.contains("bcrypt"),
            "{e}"
        );
    }

    #[test]
    fn only_the_toolkit_headers_can_be_set() {
        let e = err("http_server_config:\n  headers:\n    X-Powered-By: me\n");
        assert!(e.contains("X-Powered-By"), "{e}");
        let e = err("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
        assert!(e.contains("deny"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let c = load(&write(
            &dir,
            "web.yml",
            "http_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n",
        ))
        .unwrap();
        assert_eq!(c.headers.len(), 1);
    }
}
