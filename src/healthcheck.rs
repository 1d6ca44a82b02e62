//! `gridpane-backup-exporter healthcheck`: GET `/-/healthy` from the running
//! exporter with std only (plus rustls when it serves TLS), so that a
//! container image needs neither a shell nor curl.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Where the probe connects for a given listen address: the address itself,
/// or loopback of the same family when it is unspecified.
pub fn probe_target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `Ok` only when `target` answers `GET /-/healthy` with 200 within
/// `timeout`. With `tls`, the probe speaks HTTPS without verifying the
/// certificate: it talks to its own exporter, sends nothing secret and reads
/// only the status line.
pub fn check(target: SocketAddr, tls: bool, timeout: Duration) -> Result<(), String> {
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://{target}/-/healthy");
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("{url}: no answer within {timeout:?}"))
    };
    let tcp = TcpStream::connect_timeout(&target, remaining()?)
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    let left = remaining()?;
    tcp.set_write_timeout(Some(left))
        .and_then(|()| tcp.set_read_timeout(Some(left)))
        .map_err(|e| e.to_string())?;
    let line = if tls {
        let conn =
            rustls::ClientConnection::new(tls_config()?, ServerName::IpAddress(target.ip().into()))
                .map_err(|e| format!("{url}: {e}"))?;
        status_line(&mut rustls::StreamOwned::new(conn, tcp), target, &remaining)
    } else {
        let mut tcp = tcp;
        status_line(&mut tcp, target, &remaining)
    }
    .map_err(|e| format!("{url}: {e}"))?;
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some("200")) if v.starts_with("HTTP/1.") => Ok(()),
        (Some(v), Some(_)) if v.starts_with("HTTP/1.") => Err(format!("{url} answered \"{line}\"")),
        _ => Err(format!("{url}: not an HTTP answer: {line:?}")),
    }
}

/// Sends the request and reads the first line of the answer.
fn status_line<S: Read + Write>(
    stream: &mut S,
    target: SocketAddr,
    remaining: &dyn Fn() -> Result<Duration, String>,
) -> Result<String, String> {
    stream
        .write_all(
            format!(
                "GET /-/healthy HTTP/1.0\r\nHost: {target}\r\nUser-Agent: gridpane-backup-exporter-healthcheck\r\n\r\n"
            )
            .as_bytes(),
        )
        .and_then(|()| stream.flush())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        remaining()?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) => return Err(format!("cannot read the answer: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&head);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(OwnExporter(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts the exporter's own certificate whoever signed it (signatures are
/// still checked, so the handshake is real).
#[derive(Debug)]
struct OwnExporter(Arc<CryptoProvider>);

impl ServerCertVerifier for OwnExporter {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_listen_address;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn an_unspecified_listen_address_is_probed_over_loopback() {
        let probe = |raw: &str| probe_target(parse_listen_address(raw).unwrap()).to_string();
        assert_eq!(probe(":9878"), "127.0.0.1:9878");
        assert_eq!(probe("0.0.0.0:1"), "127.0.0.1:1");
        assert_eq!(probe("[::]:2"), "[::1]:2");
        assert_eq!(probe("192.0.2.7:3"), "192.0.2.7:3");
    }

    /// A one-shot server that answers the first request with `answer`,
    /// over TLS with a self-signed certificate when `tls`.
    fn serve_once(answer: &'static str, tls: bool) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = tls.then(|| {
            let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
            let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der())
                .unwrap();
            Arc::new(
                rustls::ServerConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.cert.der().clone()], key)
                .unwrap(),
            )
        });
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let answer_on = |s: &mut dyn ReadWrite| {
                let mut req = [0u8; 512];
                let n = s.read(&mut req).unwrap();
                assert!(req[..n].starts_with(b"GET /-/healthy HTTP/1.0\r\n"));
                s.write_all(answer.as_bytes()).unwrap();
                s.flush().unwrap();
            };
            match config {
                Some(config) => {
                    let server = rustls::ServerConnection::new(config).unwrap();
                    let mut tls = rustls::StreamOwned::new(server, conn);
                    answer_on(&mut tls);
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
                None => {
                    let mut conn = conn;
                    answer_on(&mut conn);
                }
            }
        });
        addr
    }

    trait ReadWrite: Read + Write {}
    impl<S: Read + Write> ReadWrite for S {}

    #[test]
    fn the_probe_passes_only_on_a_200() {
        assert_eq!(
            check(serve_once("HTTP/1.0 200 OK\r\n\r\nOK", false), false, T),
            Ok(())
        );
        let err = check(
            serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n", false),
            false,
            T,
        )
        .unwrap_err();
        assert!(err.contains("503"), "{err}");
        assert!(check(serve_once("SSH-2.0-OpenSSH\r\n", false), false, T).is_err());
        assert!(check(serve_once("", false), false, T).is_err());
    }

    #[test]
    fn the_probe_speaks_https_to_an_exporter_serving_tls() {
        assert_eq!(
            check(
                serve_once("HTTP/1.1 200 OK\r\n\r\nHealthy\n", true),
                true,
                T
            ),
            Ok(())
        );
        let err = check(
            serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n", true),
            true,
            T,
        )
        .unwrap_err();
        assert!(err.starts_with("https://") && err.contains("503"), "{err}");
    }

    #[test]
    fn plain_http_to_a_tls_port_is_unhealthy() {
        assert!(
            check(
                serve_once("HTTP/1.1 200 OK\r\n\r\n", true),
                false,
                Duration::from_secs(2)
            )
            .is_err()
        );
    }

    #[test]
    fn the_probe_fails_fast_on_a_closed_port_and_a_silent_server() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        assert!(check(closed, false, Duration::from_secs(2)).is_err());

        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let started = Instant::now();
        let err = check(
            silent.local_addr().unwrap(),
            false,
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    }
}
