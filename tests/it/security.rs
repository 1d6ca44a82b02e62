//! Security: TLS and basic auth from a web config file over real TLS, a
//! server that slow clients cannot starve, and secrets that appear nowhere.

use crate::support;

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gridpane_backup_exporter::app::App;
use gridpane_backup_exporter::config::Config;
use gridpane_backup_exporter::fake::{
    FakeEndpoint, FakeGridPane, FakeOptions, Fault, FaultCount, Fleet, FleetSpec,
    SECRET_SECRET_SENTINEL, SECRET_TOKEN_SENTINEL,
};
use gridpane_backup_exporter::server::{Limits, ServerOptions};
use gridpane_backup_exporter::{config::web as web_config, persist};
use support::*;

const USER: &str = "prometheus";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) struct Tls {
    _dir: tempfile::TempDir,
    pub(crate) ca_pem: String,
    pub(crate) web_config: PathBuf,
}

/// A self-signed certificate for 127.0.0.1 and a web config using it.
fn tls_files(extra: &str) -> Tls {
    tls_files_for(extra, &[USER])
}

/// Like [`tls_files`], with these basic-auth users (each with [`PASSWORD`]);
/// none: no basic auth.
pub(crate) fn tls_files_for(extra: &str, users: &[&str]) -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert_path = dir.path().join("tls.crt");
    let key_path = dir.path().join("tls.key");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let mut auth = String::new();
    if !users.is_empty() {
        auth.push_str("basic_auth_users:\n");
        for user in users {
            auth.push_str(&format!("  {user}: '{hash}'\n"));
        }
    }
    let web_config = dir.path().join("web.yml");
    std::fs::write(
        &web_config,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra}http_server_config:\n  headers:\n    X-Frame-Options: deny\n{auth}",
            cert_path.display(),
            key_path.display()
        ),
    )
    .unwrap();
    Tls {
        ca_pem: cert.cert.pem(),
        _dir: dir,
        web_config,
    }
}

async fn start_secured(fake: &FakeGridPane, web_config: &Path, limits: Limits) -> App {
    let config = Config {
        accounts: vec![account("acme", fake, TOKEN)],
        poll: fast_poll(),
        state_file: None,
        policy: Default::default(),
        access: None,
    };
    App::start_with(
        config,
        test_web(),
        ServerOptions {
            web_config: Some(web_config::load(web_config).unwrap()),
            limits,
        },
    )
    .await
    .unwrap()
}

/// Plain HTTP without auth (an empty web config), with `limits`.
async fn start_plain(fake: &FakeGridPane, limits: Limits) -> App {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "").unwrap();
    start_secured(fake, &web, limits).await
}

pub(crate) fn https_client(ca_pem: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(5))
}

async fn status(client: &reqwest::Client, url: &str, auth: Option<(&str, &str)>) -> u16 {
    let mut req = client.get(url);
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    req.send().await.unwrap().status().as_u16()
}

fn small() -> FleetSpec {
    FleetSpec {
        seed: 4,
        servers: 1,
        sites: 5,
    }
}

#[tokio::test]
async fn over_tls_basic_auth_lets_only_the_right_password_through() {
    let fake = fake(small()).await;
    let tls = tls_files("");
    let app = start_secured(&fake, &tls.web_config, Limits::default()).await;
    let client = https_client(&tls.ca_pem).build().unwrap();
    let base = format!("https://127.0.0.1:{}", app.addr.port());
    let metrics = format!("{base}/metrics");

    assert_eq!(status(&client, &metrics, None).await, 401, "no password");
    assert_eq!(
        status(&client, &metrics, Some((USER, "wrong"))).await,
        401,
        "wrong password"
    );
    assert_eq!(
        status(&client, &metrics, Some(("intruder", PASSWORD))).await,
        401,
        "unknown user"
    );
    let resp = client
        .get(&metrics)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "right password");
    assert_eq!(resp.headers()["x-frame-options"], "deny");
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("gridpane_up{account=\"acme\"}")
    );
    // Cached: the second scrape with the same password is cheap and still 200.
    assert_eq!(status(&client, &metrics, Some((USER, PASSWORD))).await, 200);

    let unauthorized = client.get(&metrics).send().await.unwrap();
    assert!(
        unauthorized.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    for path in ["/", "/-/ready"] {
        assert_eq!(
            status(&client, &format!("{base}{path}"), None).await,
            401,
            "{path}"
        );
    }
    assert_eq!(
        status(&client, &format!("{base}/-/healthy"), None).await,
        200,
        "health stays open"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn plain_http_is_refused_on_the_tls_port() {
    let fake = fake(small()).await;
    let tls = tls_files("");
    let app = start_secured(&fake, &tls.web_config, Limits::default()).await;
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    match plain
        .get(format!("http://127.0.0.1:{}/-/healthy", app.addr.port()))
        .send()
        .await
    {
        Ok(resp) => {
            assert_eq!(resp.status().as_u16(), 400);
            assert!(resp.text().await.unwrap().contains("HTTPS"));
        }
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    // The server is still fine for TLS clients afterwards.
    let client = https_client(&tls.ca_pem).build().unwrap();
    assert_eq!(
        status(
            &client,
            &format!("https://127.0.0.1:{}/-/healthy", app.addr.port()),
            None
        )
        .await,
        200
    );
    app.shutdown().await;
}

#[tokio::test]
async fn min_version_tls13_refuses_a_tls12_only_client() {
    let fake = fake(small()).await;
    let tls = tls_files("  min_version: TLS13\n");
    let app = start_secured(&fake, &tls.web_config, Limits::default()).await;
    let url = format!("https://127.0.0.1:{}/-/healthy", app.addr.port());
    let old = https_client(&tls.ca_pem)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(old.get(&url).send().await.is_err());
    let new = https_client(&tls.ca_pem).build().unwrap();
    assert_eq!(status(&new, &url, None).await, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let fake = fake(small()).await;
    let tls = tls_files("");
    let app = start_secured(&fake, &tls.web_config, Limits::default()).await;
    let url = format!("https://127.0.0.1:{}/-/healthy", app.addr.port());
    let dir = tls.web_config.parent().unwrap().to_path_buf();
    assert_eq!(tls_status(&tls.ca_pem, &url, None).await, Some(200));

    // cert-manager (or certbot) writes a new pair over the old files.
    let renewed = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join("tls.key"), renewed.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("tls.crt"), renewed.cert.pem()).unwrap();
    assert_eq!(
        tls_status(&renewed.cert.pem(), &url, None).await,
        Some(200),
        "the renewed certificate"
    );
    assert_eq!(
        tls_status(&tls.ca_pem, &url, None).await,
        None,
        "the old one is gone"
    );

    // Half a rotation: a certificate whose key is not there yet.
    let next = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join("tls.crt"), next.cert.pem()).unwrap();
    assert_eq!(
        tls_status(&renewed.cert.pem(), &url, None).await,
        Some(200),
        "a pair that does not fit keeps the previous certificate"
    );
    std::fs::write(dir.join("tls.key"), next.signing_key.serialize_pem()).unwrap();
    assert_eq!(
        tls_status(&next.cert.pem(), &url, None).await,
        Some(200),
        "the rotation completed"
    );
    app.shutdown().await;
}

/// A client CA, a client certificate it signed, and one it did not, as
/// PEM: the CA certificate and two `reqwest` identities (certificate and key).
pub(crate) struct ClientPki {
    pub(crate) dir: tempfile::TempDir,
    signed: String,
    foreign: String,
    /// Certificates the CA signed for the subjects (CN) asked for, in order.
    pub(crate) named: Vec<String>,
    /// One the CA signed whose subject holds two CNs, `alice` then `mallory`.
    ambiguous: String,
}

fn client_pki() -> ClientPki {
    client_pki_for(&[])
}

/// Like [`client_pki`], with a signed certificate for each common name.
pub(crate) fn client_pki_for(common_names: &[&str]) -> ClientPki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let identity = |issuer: Option<&CertifiedIssuer<'_, KeyPair>>, cns: &[&str]| {
        let mut params = CertificateParams::new(vec!["prometheus".to_string()]).unwrap();
        for (i, cn) in cns.iter().enumerate() {
            // rcgen keeps one value per type: a further CN goes in by its OID.
            let kind = match i {
                0 => DnType::CommonName,
                _ => DnType::CustomDnType(vec![2, 5, 4, 3]),
            };
            params.distinguished_name.push(kind, *cn);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = match issuer {
            Some(ca) => params.signed_by(&key, ca).unwrap(),
            None => params.self_signed(&key).unwrap(),
        };
        format!("{}{}", cert.pem(), key.serialize_pem())
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client-ca.crt"), ca.pem()).unwrap();
    ClientPki {
        signed: identity(Some(&ca), &[]),
        foreign: identity(None, &[]),
        named: common_names
            .iter()
            .map(|cn| identity(Some(&ca), &[cn]))
            .collect(),
        ambiguous: identity(Some(&ca), &["alice", "mallory"]),
        dir,
    }
}

/// Status of a request (with the right password) from a new client that
/// trusts only `ca_pem` and presents `identity`, or `None` when the
/// handshake (or the request) failed. A new client is a new handshake.
async fn tls_status(ca_pem: &str, url: &str, identity: Option<&str>) -> Option<u16> {
    let mut builder = https_client(ca_pem);
    if let Some(pem) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    let client = builder.build().unwrap();
    let resp = client
        .get(url)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .ok()?;
    Some(resp.status().as_u16())
}

#[tokio::test]
async fn mutual_tls_admits_only_clients_with_a_certificate_from_the_client_ca() {
    let fake = fake(small()).await;
    let pki = client_pki();
    let ca_file = pki.dir.path().join("client-ca.crt");
    for (policy, without_cert) in [
        ("RequireAndVerifyClientCert", None),
        ("VerifyClientCertIfGiven", Some(200)),
    ] {
        let tls = tls_files(&format!(
            "  client_auth_type: {policy}\n  client_ca_file: {}\n",
            ca_file.display()
        ));
        let app = start_secured(&fake, &tls.web_config, Limits::default()).await;
        let url = format!("https://127.0.0.1:{}/metrics", app.addr.port());
        assert_eq!(
            tls_status(&tls.ca_pem, &url, Some(&pki.signed)).await,
            Some(200),
            "{policy}: a certificate from the client CA"
        );
        assert_eq!(
            tls_status(&tls.ca_pem, &url, Some(&pki.foreign)).await,
            None,
            "{policy}: a certificate from elsewhere"
        );
        assert_eq!(
            tls_status(&tls.ca_pem, &url, None).await,
            without_cert,
            "{policy}: no certificate"
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn a_client_certificate_with_two_common_names_is_refused() {
    let fake = fake(small()).await;
    let pki = client_pki_for(&["alice"]);
    let tls = tls_files(&format!(
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        pki.dir.path().join("client-ca.crt").display()
    ));
    let (log, _guard) = capture_logs();
    let app = start_secured(&fake, &tls.web_config, Limits::default()).await;
    let base = format!("https://127.0.0.1:{}", app.addr.port());
    for path in ["/metrics", "/api/v1/sites", "/-/healthy"] {
        let url = format!("{base}{path}");
        assert_eq!(
            tls_status(&tls.ca_pem, &url, Some(&pki.named[0])).await,
            Some(200),
            "{path}: one CN"
        );
        assert_eq!(
            tls_status(&tls.ca_pem, &url, Some(&pki.ambiguous)).await,
            Some(403),
            "{path}: two CNs"
        );
    }
    app.shutdown().await;
    let logged = std::fs::read_to_string(log.path()).unwrap();
    let refused: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("client certificate refused"))
        .collect();
    assert_eq!(refused.len(), 3, "one line a connection: {logged}");
    assert!(refused[0].contains("common_names=2"), "{}", refused[0]);
}

/// Opens a connection that starts a request and then sends one header byte
/// every 300 ms (or nothing at all), never finishing it.
fn slow_loris(addr: SocketAddr, trickle: bool) -> std::thread::JoinHandle<Option<Duration>> {
    std::thread::spawn(move || {
        let opened = Instant::now();
        let mut s = std::net::TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(300))).ok()?;
        if trickle {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .ok()?;
        }
        let mut buf = [0u8; 256];
        while opened.elapsed() < Duration::from_secs(8) {
            if trickle && s.write_all(b"a").is_err() {
                return Some(opened.elapsed());
            }
            match s.read(&mut buf) {
                Ok(_) => return Some(opened.elapsed()), // closed (or an error page)
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return Some(opened.elapsed()),
            }
        }
        None
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_clients_cannot_starve_scrapes() {
    let fake = fake(small()).await;
    let limits = Limits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let app = start_plain(&fake, limits).await;
    wait_ready(&app).await;

    // Twice the connection cap, half trickling header bytes, half silent.
    let lorises: Vec<_> = (0..32).map(|i| slow_loris(app.addr, i % 2 == 0)).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let (status, text) = get(&app, "/metrics").await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(text.contains("gridpane_up{account=\"acme\"} 1"));
    assert!(
        took < Duration::from_secs(4),
        "a scrape waited {took:?} behind slow clients"
    );

    for (i, l) in lorises.into_iter().enumerate() {
        let closed = tokio::task::spawn_blocking(move || l.join().unwrap())
            .await
            .unwrap();
        let closed = closed.unwrap_or_else(|| panic!("slow client {i} was never disconnected"));
        assert!(
            closed < Duration::from_secs(6),
            "slow client {i} kept its connection for {closed:?}"
        );
    }
    app.shutdown().await;
}

/// Fills the server past its connection cap: `idle` keep-alive connections
/// that each made one request (with `auth` when given, else unauthenticated)
/// and stay open, then `half_sent` connections that started a request (or a
/// TLS handshake) and never finish it. Returns what keeps them open.
async fn crowd(
    app: &App,
    client: impl Fn() -> reqwest::Client,
    base: &str,
    idle: usize,
    auth: Option<(&str, &str)>,
    half_sent: usize,
    opening: &'static [u8],
) -> (Vec<reqwest::Client>, Vec<tokio::net::TcpStream>) {
    let mut requests = tokio::task::JoinSet::new();
    let mut clients = Vec::new();
    for i in 0..idle {
        // One client, one pooled connection that stays open after its answer.
        let c = client();
        let mut req = c.get(format!("{base}/-/ready"));
        if let Some((u, p)) = auth.filter(|_| i % 2 == 0) {
            req = req.basic_auth(u, Some(p));
        }
        requests.spawn(tokio::time::timeout(Duration::from_secs(3), req.send()));
        clients.push(c);
    }
    requests.join_all().await;
    let mut streams = Vec::new();
    for _ in 0..half_sent {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, opening)
            .await
            .unwrap();
        streams.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    (clients, streams)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_cannot_lock_a_scrape_out() {
    let fake = fake(small()).await;
    let limits = Limits {
        max_connections: 32,
        ..Limits::default()
    };
    let app = start_plain(&fake, limits).await;
    wait_ready(&app).await;
    let base = format!("http://{}", app.addr);
    let crowded = crowd(
        &app,
        || {
            reqwest::Client::builder()
                .tls_built_in_root_certs(false)
                .build()
                .unwrap()
        },
        &base,
        64,
        None,
        32,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
    )
    .await;

    let scrape = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("a fresh scrape waited behind idle and half-sent connections");
    assert_eq!(scrape.status().as_u16(), 200);
    assert!(
        scrape
            .text()
            .await
            .unwrap()
            .contains("gridpane_up{account=\"acme\"} 1")
    );
    drop(crowded);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_and_basic_auth_idle_half_sent_and_unauthenticated_connections_cannot_lock_a_scrape_out()
 {
    let fake = fake(small()).await;
    let tls = tls_files("");
    let limits = Limits {
        max_connections: 32,
        ..Limits::default()
    };
    let app = start_secured(&fake, &tls.web_config, limits).await;
    let base = format!("https://127.0.0.1:{}", app.addr.port());
    // Without the system's roots, which take a while to load per client.
    let client = || {
        https_client(&tls.ca_pem)
            .tls_built_in_root_certs(false)
            .build()
            .unwrap()
    };

    // An unauthenticated request gets its 401 and loses its connection.
    let refused = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(refused.headers()["connection"], "close");

    // Half authenticated, half not; then the start of a TLS handshake.
    let crowded = crowd(
        &app,
        client,
        &base,
        64,
        Some((USER, PASSWORD)),
        32,
        b"\x16\x03\x01",
    )
    .await;

    let scrape = https_client(&tls.ca_pem)
        .build()
        .unwrap()
        .get(format!("{base}/metrics"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .expect("a fresh scrape waited behind idle and half-sent connections");
    assert_eq!(scrape.status().as_u16(), 200);
    drop(crowded);
    app.shutdown().await;
}

#[tokio::test]
async fn oversized_request_headers_are_rejected() {
    let fake = fake(small()).await;
    let app = start(vec![account("acme", &fake, TOKEN)], fast_poll()).await;
    let resp = reqwest::Client::new()
        .get(format!("http://{}/-/healthy", app.addr))
        .header("X-Big", "a".repeat(64 * 1024))
        .send()
        .await;
    match resp {
        Ok(r) => assert_eq!(r.status().as_u16(), 431),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    assert_eq!(get(&app, "/-/healthy").await.0, 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthcheck_subcommand_speaks_https_when_the_web_config_has_tls() {
    let fake = fake(small()).await;
    let tls = tls_files("");
    let app = start_secured(&fake, &tls.web_config, Limits::default()).await;
    let listen = format!(":{}", app.addr.port());
    let web_config = tls.web_config.clone();
    let probe = move |with_config: bool| {
        let mut c = binary();
        c.args(["healthcheck", "--web.listen-address", &listen]);
        if with_config {
            c.arg("--web.config.file").arg(&web_config);
        }
        c.output().unwrap()
    };
    let (with, without) = tokio::task::spawn_blocking(move || (probe(true), probe(false)))
        .await
        .unwrap();
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert_eq!(
        without.status.code(),
        Some(1),
        "plain HTTP to the TLS port is unhealthy"
    );
    app.shutdown().await;
}

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridpane-backup-exporter"));
    c.env_clear();
    c
}

#[test]
fn a_bad_web_config_is_a_one_line_error_naming_file_and_key_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "basic_auth_users:\n  alice: not-a-hash\n").unwrap();
    for check in [true, false] {
        let mut cmd = binary();
        cmd.args(["--web.config.file", web.to_str().unwrap(), "--demo"]);
        if check {
            cmd.arg("--config.check");
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("web.yml") && stderr.contains("basic_auth_users.alice"),
            "{stderr}"
        );
    }
    std::fs::write(&web, "tls_server_config:\n  certfile: x\n").unwrap();
    let out = binary()
        .args([
            "--web.config.file",
            web.to_str().unwrap(),
            "--demo",
            "--config.check",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("certfile"), "{stderr}");
}

// ------------------------------------------------------------- sentinels

/// Planted as the GridPane token.
const GRIDPANE_TOKEN_SENTINEL: &str = "SENTINEL-GRIDPANE-TOKEN-e41d";

fn sentinels() -> [&'static str; 3] {
    [
        GRIDPANE_TOKEN_SENTINEL,
        SECRET_TOKEN_SENTINEL,
        SECRET_SECRET_SENTINEL,
    ]
}

fn assert_clean(what: &str, text: &str) {
    for s in sentinels() {
        assert!(!text.contains(s), "{s} leaked into {what}");
    }
}

/// Runs the binary with debug logs until it has polled and detailed, reads
/// every endpoint and the state file, stops it, and returns what it logged.
async fn run_and_collect(
    fake: &FakeGridPane,
    dir: &Path,
    format: &str,
    config: &Path,
    env: &[(&str, String)],
) -> Vec<(String, String)> {
    let port = free_port();
    let mut child = binary()
        .args([
            "--config.file",
            config.to_str().unwrap(),
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--log.level",
            "debug",
            "--log.format",
            format,
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut seen = Vec::new();
    // Until every site is detailed (integration secrets have been read).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = match http.get(format!("{base}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let detailed = text
            .lines()
            .filter(|l| l.starts_with("gridpane_site_detail_age_seconds{"))
            .count();
        if detailed == fake.fleet().sites.len() {
            break;
        }
        assert!(Instant::now() < deadline, "never fully detailed:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in [
        "/metrics",
        "/",
        "/-/ready",
        "/-/healthy",
        "/api/v1/status",
        "/api/v1/sites",
        "/api/v1/schedules",
        "/api/v1/integrations",
    ] {
        let resp = http.get(format!("{base}{path}")).send().await.unwrap();
        let code = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        if code == 200 {
            seen.push((path.to_string(), body));
        }
    }
    let state_path = dir.join("state.json");
    wait_for(10, "the state file", || async { state_path.exists() }).await;
    seen.push((
        "the state file".to_string(),
        std::fs::read_to_string(&state_path).unwrap(),
    ));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child.wait().unwrap();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("debug") || l.contains("DEBUG")),
        "debug logging was not on:\n{stderr}"
    );
    assert!(
        stderr.contains("poll finished") && stderr.contains("poll failed"),
        "both outcomes should be logged:\n{stderr}"
    );
    seen.push((format!("the {format} logs"), stderr));
    seen.push(("stdout".to_string(), stdout));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_log_line_metric_page_answer_or_state_file() {
    let opts = FakeOptions {
        token: GRIDPANE_TOKEN_SENTINEL.to_string(),
        ..FakeOptions::default()
    };
    let fake = FakeGridPane::start(
        Fleet::generate(&FleetSpec {
            seed: 8,
            servers: 1,
            sites: 6,
        }),
        opts,
    )
    .await
    .unwrap();

    // The fake really serves the secrets the exporter must drop.
    let raw = reqwest::Client::new()
        .get(format!(
            "{}/oauth/api/v1/backups/integrations",
            fake.base_url()
        ))
        .bearer_auth(GRIDPANE_TOKEN_SENTINEL)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains(SECRET_TOKEN_SENTINEL) && raw.contains(SECRET_SECRET_SENTINEL));

    for (format, token_in) in [("logfmt", "config"), ("json", "env")] {
        // Failures too, so that error paths are logged: a bad answer, a 401.
        fake.set_fault(
            FakeEndpoint::BackupIntegrations,
            Fault::WrongTypes,
            FaultCount::Times(1),
        );
        fake.set_fault(
            FakeEndpoint::Schedules,
            Fault::Unauthorized,
            FaultCount::Times(1),
        );
        fake.set_fault(
            FakeEndpoint::SiteIntegrations,
            Fault::Status(500),
            FaultCount::Times(1),
        );
        let dir = tempfile::tempdir().unwrap();
        let token_line = match token_in {
            "config" => format!(
                "poll:\n  requests_per_minute: 0\naccounts:\n  - name: acme\n    base_url: {}\n    token: {GRIDPANE_TOKEN_SENTINEL}\n",
                fake.base_url()
            ),
            _ => String::new(),
        };
        let env = match token_in {
            "env" => vec![
                ("GRIDPANE_API_TOKEN", GRIDPANE_TOKEN_SENTINEL.to_string()),
                ("GRIDPANE_API_URL", fake.base_url()),
            ],
            _ => Vec::new(),
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "{token_line}poll:\n  interval: 200ms\n  requests_per_minute: 0\n  max_retries: 0\n  detail:\n    enabled: true\n    requests_per_minute: 6000\n    publish_every: 50ms\nstate_file: {}\n",
                dir.path().join("state.json").display()
            ),
        )
        .unwrap();
        let seen = run_and_collect(&fake, dir.path(), format, &config, &env).await;
        assert!(seen.iter().any(|(what, _)| what == "/metrics"));
        for (what, text) in &seen {
            assert_clean(&format!("{what} ({format}, token from {token_in})"), text);
        }
        // What was read from the state file is a real snapshot.
        let saved = persist::load(&dir.path().join("state.json"))
            .unwrap()
            .unwrap();
        assert_eq!(saved[0].snapshot.sites.len(), 6);
    }
}

/// Values `inspect` must never print: planted in the backup record's body,
/// and the fake's own values (URLs, ids, addresses, names, credentials).
const PLANTED_HISTORY: &str = r#"{
    "success": true,
    "site_url": "https://PLANTED-URL.example/wp-admin",
    "owner": "PLANTED-OWNER",
    "size": 424242424,
    "ratio": "0.987654321",
    "api_token": "PLANTED-CREDENTIAL",
    "PLANTED-KEY.example.com": {"note": "PLANTED-NOTE"},
    "backups": {"local": {"automatic": ["2026-11-30 03:15 PLANTEDTAG1"], "manual": ["2026-11-29 10:00"]}}
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_prints_shapes_and_what_the_reader_found_but_no_value_from_any_body() {
    let opts = FakeOptions {
        token: GRIDPANE_TOKEN_SENTINEL.to_string(),
        ..FakeOptions::default()
    };
    let fleet = Fleet::generate(&FleetSpec {
        seed: 8,
        servers: 2,
        sites: 6,
    });
    let fake = FakeGridPane::start(fleet.clone(), opts).await.unwrap();
    fake.set_fault(
        FakeEndpoint::BackupHistory,
        Fault::Body(PLANTED_HISTORY.to_string()),
        FaultCount::Times(1),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "poll:\n  requests_per_minute: 0\naccounts:\n  - name: acme\n    base_url: {}\n    token: {GRIDPANE_TOKEN_SENTINEL}\n",
            fake.base_url()
        ),
    )
    .unwrap();
    let site = fleet.sites[1].id;
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_gridpane-backup-exporter"))
            .args([
                "inspect",
                "--refresh",
                "--site",
                &site.to_string(),
                "--config.file",
            ])
            .arg(&config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // Every endpoint was called and described, the record read.
    for route in [
        "/site\n",
        "/server\n",
        "/backups/schedules\n",
        "/backups/integrations\n",
        "/site/{site_id}\n",
        "/backups/prune-schedule/{site_id}\n",
        "/backups/integrations/{site_id}\n",
        "/backups/refresh/{site_id}\n",
        "/backups/original/{site_id}\n",
    ] {
        assert!(
            stdout.contains(&format!("== GET {route}")),
            "{route}:\n{stdout}"
        );
    }
    assert!(stdout.contains("\"site_url\": \"<url>\""), "{stdout}");
    assert!(stdout.contains("\"size\": \"<number>\""), "{stdout}");
    assert!(stdout.contains("\"api_token\": \"<dropped>\""), "{stdout}");
    assert!(
        stdout.contains("history reader: 2 backups: 2 local, 0 remote"),
        "{stdout}"
    );
    assert!(
        stdout.contains("<2 items>") || stdout.contains("<6 items>"),
        "list lengths kept:\n{stdout}"
    );

    let mut sentinels: Vec<String> = [
        "PLANTED-URL",
        "PLANTED-OWNER",
        "424242424",
        "987654321",
        "PLANTED-CREDENTIAL",
        "PLANTED-KEY",
        "PLANTED-NOTE",
        "PLANTEDTAG1",
        "2026-11-30",
        GRIDPANE_TOKEN_SENTINEL,
        SECRET_TOKEN_SENTINEL,
        SECRET_SECRET_SENTINEL,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for s in &fleet.sites {
        sentinels.push(s.url.clone());
        sentinels.push(s.id.to_string());
    }
    for s in &fleet.servers {
        sentinels.extend([s.label.clone(), s.ip.clone(), s.id.to_string()]);
    }
    for i in &fleet.integrations {
        sentinels.extend([i.name.clone(), i.id.to_string()]);
    }
    for value in &sentinels {
        assert!(
            !stdout.contains(value.as_str()),
            "{value} leaked:\n{stdout}"
        );
        assert!(
            !stderr.contains(value.as_str()),
            "{value} leaked:\n{stderr}"
        );
    }
}
