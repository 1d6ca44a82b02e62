//! `gridpane-backup-exporter healthcheck`: GET `/-/healthy` from the running
//! exporter, so that a container image needs neither a shell nor curl. It
//! uses the HTTP client the exporter already has (reqwest with rustls) on a
//! one-thread runtime.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

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
/// `timeout` (connecting, asking and reading the status together). With
/// `tls`, the probe speaks HTTPS without verifying the certificate: it talks
/// to its own exporter, sends nothing secret and reads only the status.
pub fn check(target: SocketAddr, tls: bool, timeout: Duration) -> Result<(), String> {
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://{target}/-/healthy");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let client = reqwest::Client::builder()
        .user_agent("gridpane-backup-exporter-healthcheck")
        .timeout(timeout)
        // The target is an address, never a name: a proxy from the
        // environment (HTTP_PROXY in a container) must not answer for it.
        .no_proxy()
        // A redirect is not the 200 asked for.
        .redirect(reqwest::redirect::Policy::none())
        // Only for this probe of its own exporter, which serves whatever
        // certificate the web config names (often self-signed, for a host
        // name other than loopback). Nothing is verified, so the system's
        // root certificates are not read either.
        .danger_accept_invalid_certs(tls)
        .tls_built_in_root_certs(false)
        .build()
        .map_err(|e| format!("{url}: {}", root_cause(&e)))?;
    // Only the status is read: the body is dropped unread.
    let answer = runtime.block_on(async { client.get(&url).send().await });
    match answer {
        Ok(r) if r.status() == reqwest::StatusCode::OK => Ok(()),
        Ok(r) => Err(format!("{url} answered {}", r.status())),
        Err(e) if e.is_timeout() => Err(format!("{url}: no answer within {timeout:?}")),
        Err(e) if e.is_connect() => Err(format!("cannot connect to {target}: {}", root_cause(&e))),
        Err(e) => Err(format!("{url}: {}", root_cause(&e))),
    }
}

/// The innermost cause of `e` (reqwest's own message only names the stage,
/// such as "error sending request").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut root = e;
    while let Some(s) = root.source() {
        root = s;
    }
    root.to_string()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::time::Instant;

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
                assert!(req[..n].starts_with(b"GET /-/healthy HTTP/1.1\r\n"));
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
    fn a_redirect_is_not_followed_and_is_unhealthy() {
        let healthy = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false);
        let redirect: &'static str = format!(
            "HTTP/1.1 302 Found\r\nLocation: http://{healthy}/-/healthy\r\nContent-Length: 0\r\n\r\n"
        )
        .leak();
        let err = check(serve_once(redirect, false), false, T).unwrap_err();
        assert!(err.contains("302"), "{err}");
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
