//! `tls_server_config`: the certificate and key (files, read again when
//! they change, or inline), the TLS versions, client certificates against
//! a CA, and the toolkit's keys this exporter refuses rather than ignores.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use super::WebConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
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

impl RawTls {
    /// Client certificates are verified (`VerifyClientCertIfGiven`,
    /// `RequireAndVerifyClientCert`): their subjects can be users.
    pub(super) fn verifies_client_certificates(&self) -> bool {
        matches!(
            self.client_auth_type.as_deref().map(str::trim),
            Some("VerifyClientCertIfGiven" | "RequireAndVerifyClientCert")
        )
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

pub(super) fn tls_config(
    path: &Path,
    t: RawTls,
) -> Result<Option<Arc<rustls::ServerConfig>>, WebConfigError> {
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
