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

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderName, HeaderValue};
use base64::Engine as _;
use figment::Figment;
use figment::providers::{Format as _, Yaml};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

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
struct RawTls {
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
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
    let client_certificates = raw.tls_server_config.as_ref().is_some_and(|t| {
        matches!(
            t.client_auth_type.as_deref().map(str::trim),
            Some("VerifyClientCertIfGiven" | "RequireAndVerifyClientCert")
        )
    });
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

fn not_supported(path: &Path, key: &str) -> WebConfigError {
    WebConfigError::at(path, key, "not supported by this exporter")
}

fn tls_version(
    path: &Path,
    key: &str,
    raw: Option<&str>,
    default: &'static rustls::SupportedProtocolVersion,
) -> Result<&'static rustls::SupportedProtocolVersion, WebConfigError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(&rustls::version::TLS12),
        Some("TLS13") => Ok(&rustls::version::TLS13),
        Some(v @ ("TLS10" | "TLS11")) => Err(WebConfigError::at(
            path,
            key,
            format!("{v} is not supported (TLS12 or TLS13)"),
        )),
        Some(v) => Err(WebConfigError::at(
            path,
            key,
            format!("unknown TLS version \"{v}\" (TLS10, TLS11, TLS12, TLS13)"),
        )),
    }
}

fn read_pem(
    path: &Path,
    key: &str,
    file: Option<&Path>,
    inline: Option<&str>,
) -> Result<Option<Vec<u8>>, WebConfigError> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(WebConfigError::at(
            path,
            key,
            "set the file or the inline value, not both",
        )),
        (Some(f), None) => std::fs::read(f).map(Some).map_err(|e| {
            WebConfigError::at(path, key, format!("cannot read {}: {e}", f.display()))
        }),
        (None, Some(text)) => Ok(Some(text.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn tls_config(path: &Path, t: RawTls) -> Result<Option<Arc<rustls::ServerConfig>>, WebConfigError> {
    let key = |k: &str| format!("tls_server_config.{k}");
    if t.cipher_suites.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(not_supported(path, &key("cipher_suites")));
    }
    if t.curve_preferences.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(not_supported(path, &key("curve_preferences")));
    }
    if t.client_allowed_sans
        .as_ref()
        .is_some_and(|v| !v.is_empty())
    {
        return Err(not_supported(path, &key("client_allowed_sans")));
    }
    let cert = read_pem(
        path,
        &key("cert_file"),
        t.cert_file.as_deref(),
        t.cert.as_deref(),
    )?;
    let private = read_pem(
        path,
        &key("key_file"),
        t.key_file.as_deref(),
        t.key.as_deref(),
    )?;
    let client_ca = read_pem(
        path,
        &key("client_ca_file"),
        t.client_ca_file.as_deref(),
        t.client_ca.as_deref(),
    )?;
    let auth_type = t.client_auth_type.as_deref().map(str::trim).unwrap_or("");
    let (cert, private) = match (cert, private) {
        (None, None) => {
            if !auth_type.is_empty() || client_ca.is_some() {
                return Err(WebConfigError::at(
                    path,
                    &key("cert_file"),
                    "client authentication needs cert_file and key_file",
                ));
            }
            // The toolkit serves plain HTTP when no certificate is configured.
            return Ok(None);
        }
        (Some(_), None) => {
            return Err(WebConfigError::at(
                path,
                &key("key_file"),
                "missing: cert_file is set",
            ));
        }
        (None, Some(_)) => {
            return Err(WebConfigError::at(
                path,
                &key("cert_file"),
                "missing: key_file is set",
            ));
        }
        (Some(c), Some(k)) => (c, k),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = certified_key(&cert, &private, &provider)
        .map_err(|(field, message)| WebConfigError::at(path, &key(field), message))?;
    let files = t.cert_file.zip(t.key_file);
    let stamp = files.as_ref().map(|(c, k)| stamp_of(c, k));
    let resolver = Arc::new(ReloadingCert {
        files,
        provider: Arc::clone(&provider),
        current: Mutex::new((stamp, Arc::new(certified))),
    });

    let min = tls_version(
        path,
        &key("min_version"),
        t.min_version.as_deref(),
        &rustls::version::TLS12,
    )?;
    let max = tls_version(
        path,
        &key("max_version"),
        t.max_version.as_deref(),
        &rustls::version::TLS13,
    )?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| {
                let rank = |x: &rustls::SupportedProtocolVersion| u16::from(x.version);
                rank(v) >= rank(min) && rank(v) <= rank(max)
            })
            .collect();
    if versions.is_empty() {
        return Err(WebConfigError::at(
            path,
            &key("max_version"),
            "is lower than min_version",
        ));
    }

    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| WebConfigError::at(path, &key("min_version"), e))?;

    let verify = |mandatory: bool| -> Result<
        Arc<dyn rustls::server::danger::ClientCertVerifier>,
        WebConfigError,
    > {
        let Some(ca) = &client_ca else {
            return Err(WebConfigError::at(
                path,
                &key("client_ca_file"),
                format!("required by client_auth_type {auth_type}"),
            ));
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca) {
            let c = c.map_err(|e| {
                WebConfigError::at(
                    path,
                    &key("client_ca_file"),
                    format!("not a PEM certificate: {e}"),
                )
            })?;
            roots
                .add(c)
                .map_err(|e| WebConfigError::at(path, &key("client_ca_file"), e))?;
        }
        let b = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&provider),
        );
        let b = if mandatory {
            b
        } else {
            b.allow_unauthenticated()
        };
        b.build()
            .map_err(|e| WebConfigError::at(path, &key("client_ca_file"), e))
    };
    let builder = match auth_type {
        "" | "NoClientCert" => {
            if client_ca.is_some() {
                return Err(WebConfigError::at(
                    path,
                    &key("client_auth_type"),
                    "client CAs are configured without a client auth policy (VerifyClientCertIfGiven or RequireAndVerifyClientCert)",
                ));
            }
            builder.with_no_client_auth()
        }
        "VerifyClientCertIfGiven" => builder.with_client_cert_verifier(verify(false)?),
        "RequireAndVerifyClientCert" => builder.with_client_cert_verifier(verify(true)?),
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(WebConfigError::at(
                path,
                &key("client_auth_type"),
                format!(
                    "{auth_type} is not supported by this exporter (NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
                ),
            ));
        }
        other => {
            return Err(WebConfigError::at(
                path,
                &key("client_auth_type"),
                format!("unknown value \"{other}\""),
            ));
        }
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// A certificate chain and its private key, checked to fit each other. An
/// error names the field (`cert_file` or `key_file`) and what is wrong.
fn certified_key(
    cert: &[u8],
    private: &[u8],
    provider: &rustls::crypto::CryptoProvider,
) -> Result<rustls::sign::CertifiedKey, (&'static str, String)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .map_err(|e| ("cert_file", format!("not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(("cert_file", "no certificate in the PEM data".to_string()));
    }
    let private = PrivateKeyDer::from_pem_slice(private)
        .map_err(|e| ("key_file", format!("not a PEM private key: {e}")))?;
    rustls::sign::CertifiedKey::from_der(certs, private, provider)
        .map_err(|e| ("key_file", format!("does not fit the certificate: {e}")))
}

/// When the certificate and key files last changed (modification time and
/// length of each); `None` for a file that cannot be read.
type Stamp = [Option<(std::time::SystemTime, u64)>; 2];

fn stamp_of(cert: &Path, key: &Path) -> Stamp {
    [cert, key].map(|f| {
        let meta = std::fs::metadata(f).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    })
}

/// Serves the configured certificate, and reads `cert_file` and `key_file`
/// again when either changes (checked at each TLS handshake, as the
/// exporter-toolkit does), so a renewed certificate is served without a
/// restart. A pair that does not load (a rotation half done, a bad file)
/// is logged once and the previous certificate stays in use.
#[derive(Debug)]
struct ReloadingCert {
    /// `None` when the certificate was given inline.
    files: Option<(PathBuf, PathBuf)>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: Mutex<(Option<Stamp>, Arc<rustls::sign::CertifiedKey>)>,
}

impl rustls::server::ResolvesServerCert for ReloadingCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let mut current = match self.current.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((cert_file, key_file)) = &self.files {
            let stamp = stamp_of(cert_file, key_file);
            if current.0.as_ref() != Some(&stamp) {
                current.0 = Some(stamp);
                let loaded = std::fs::read(cert_file)
                    .map_err(|e| ("cert_file", format!("cannot read it: {e}")))
                    .and_then(|c| {
                        let k = std::fs::read(key_file)
                            .map_err(|e| ("key_file", format!("cannot read it: {e}")))?;
                        certified_key(&c, &k, &self.provider)
                    });
                match loaded {
                    Ok(key) => {
                        current.1 = Arc::new(key);
                        tracing::info!(cert_file = %cert_file.display(), "TLS certificate reloaded");
                    }
                    Err((field, reason)) => tracing::warn!(
                        field,
                        %reason,
                        "TLS certificate files changed but do not load; the previous certificate stays in use"
                    ),
                }
            }
        }
        Some(Arc::clone(&current.1))
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

/// Successful verifications remembered, at most.
const AUTH_CACHE_MAX: usize = 1024;
/// bcrypt verifications running at once, at most: unauthenticated requests
/// cannot take every core.
const AUTH_CONCURRENCY: usize = 2;

/// Basic auth against bcrypt hashes. bcrypt is slow on purpose, so a
/// successful (user, password) pair is remembered as a keyed hash (never
/// the password) and later requests with it cost nothing.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Verified against for unknown users, so they take as long as known
    /// ones: its cost is the highest in the file.
    dummy_hash: String,
    keys: RandomState,
    verified: Mutex<HashSet<u64>>,
    running: tokio::sync::Semaphore,
}

impl BasicAuth {
    fn new(path: &Path, users: BTreeMap<String, String>) -> Result<Self, WebConfigError> {
        // The highest cost in the file: an unknown user must never be
        // cheaper to reject than a known one.
        let mut cost = 0;
        for (user, hash) in &users {
            let key = format!("basic_auth_users.{user}");
            if user.is_empty() || user.contains(':') {
                return Err(WebConfigError::at(
                    path,
                    &key,
                    "a user name must be non-empty and without ':'",
                ));
            }
            let parts: bcrypt::HashParts = hash
                .trim()
                .parse()
                .map_err(|_| WebConfigError::at(path, &key, "not a bcrypt hash"))?;
            cost = cost.max(parts.get_cost());
        }
        let dummy_hash = bcrypt::hash("not a password", cost)
            .map_err(|e| WebConfigError::at(path, "basic_auth_users", e))?;
        Ok(BasicAuth {
            users: users
                .into_iter()
                .map(|(u, h)| (u, h.trim().to_string()))
                .collect(),
            dummy_hash,
            keys: RandomState::new(),
            verified: Mutex::new(HashSet::new()),
            running: tokio::sync::Semaphore::new(AUTH_CONCURRENCY),
        })
    }

    /// The user, when the `Authorization` header carries a configured user
    /// and the right password.
    pub(crate) async fn authenticate(&self, authorization: Option<&HeaderValue>) -> Option<String> {
        let (user, password) = authorization.and_then(parse_basic)?;
        let key = self.keys.hash_one((&user, &password));
        if self.with_cache(|c| c.contains(&key)) {
            return Some(user);
        }
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let _permit = self.running.acquire().await.ok()?;
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if ok && known {
            self.with_cache(|c| {
                if c.len() >= AUTH_CACHE_MAX {
                    c.clear();
                }
                c.insert(key);
            });
        }
        (ok && known).then_some(user)
    }

    fn with_cache<R>(&self, f: impl FnOnce(&mut HashSet<u64>) -> R) -> R {
        match self.verified.lock() {
            Ok(mut c) => f(&mut c),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// `Basic base64(user:password)` -> (user, password).
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let text = value.to_str().ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

impl BasicAuth {
    /// Whether the file defines `user` (its password is not checked).
    pub(crate) fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }
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

    #[test]
    fn unknown_users_are_checked_against_a_hash_at_the_highest_cost_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // The costliest user first: the last one in the file is the cheapest.
        let yaml = format!(
            "basic_auth_users:\n  alice: '{}'\n  bob: '{}'\n  carol: '{}'\n",
            bcrypt::hash("a", 6).unwrap(),
            bcrypt::hash("b", 5).unwrap(),
            bcrypt::hash("c", 4).unwrap(),
        );
        let auth = load(&write(&dir, "web.yml", &yaml)).unwrap().auth.unwrap();
        let dummy: bcrypt::HashParts = auth.dummy_hash.parse().unwrap();
        assert_eq!(dummy.get_cost(), 6);
    }

    #[tokio::test]
    async fn basic_auth_accepts_the_right_password_only_and_caches_it() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let c = load(&write(
            &dir,
            "web.yml",
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
        ))
        .unwrap();
        let auth = c.auth.unwrap();
        let header = |u: &str, p: &str| {
            HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            ))
            .unwrap()
        };
        assert!(
            auth.authenticate(Some(&header("alice", "s3cret")))
                .await
                .is_some()
        );
        assert!(auth.with_cache(|c| c.len()) == 1);
        assert!(
            auth.authenticate(Some(&header("alice", "s3cret")))
                .await
                .is_some()
        );
        assert!(
            auth.authenticate(Some(&header("alice", "wrong")))
                .await
                .is_none()
        );
        assert!(
            auth.authenticate(Some(&header("bob", "s3cret")))
                .await
                .is_none()
        );
        assert!(auth.authenticate(None).await.is_none());
        assert!(
            auth.authenticate(Some(&HeaderValue::from_static("Bearer x")))
                .await
                .is_none()
        );
        assert!(
            auth.authenticate(Some(&HeaderValue::from_static("Basic !!!")))
                .await
                .is_none()
        );
    }
}
