//! Serving the router: plain HTTP or TLS, basic auth, and the limits that
//! keep one misbehaving client from starving Prometheus.
//!
//! - at most `max_connections` connections at once. When every slot is
//!   taken, a new connection takes the slot of the one that has waited
//!   longest without a request in progress (idle keep-alive, a TLS handshake
//!   or a request head not yet complete), or whose answer has made no
//!   progress for a second; only when every connection is answering does
//!   it wait in the listen backlog. Idle and half-sent connections cannot
//!   lock a scrape out;
//! - a client must send a complete request head within `header_read_timeout`
//!   (also the keep-alive idle limit), and the head may be at most
//!   `max_header_bytes`: a slow-loris connection is closed, not kept;
//! - a TLS handshake must finish within `tls_handshake_timeout`;
//! - a handler must answer within `request_timeout` (503 otherwise), and a
//!   client that stops reading its answer for `write_timeout` is dropped;
//! - basic auth guards every path except `/-/healthy`; a 401 closes the
//!   connection;
//! - the authenticated user (the basic-auth user, or else the common name
//!   of a verified client certificate) goes with the request as an
//!   [`Identity`], for the `access` rules.
//! - a client certificate with more than one common name names no one for
//!   sure: every request on its connection answers 403.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Sleep;

use crate::config::web::{BasicAuth, WebConfig};
use crate::http::access::Identity;

/// The server's limits. The defaults suit an exporter scraped by a few
/// Prometheus servers.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub write_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    /// hyper's read buffer, which bounds the request head; at least 8192.
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// What the JSON API's list answers may hold in memory at once.
    pub max_api_answer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 128,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_api_answer_bytes: crate::http::api::DEFAULT_ANSWER_BYTES,
        }
    }
}

/// How to serve: the web config (TLS, basic auth, headers) and the limits.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    pub web_config: Option<WebConfig>,
    pub limits: Limits,
}

/// How long open connections get to finish after a stop signal.
const DRAIN: Duration = Duration::from_secs(3);
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;
/// An answer that has made no progress for this long may lose its slot to a
/// new connection when every slot is taken.
const STALLED: Duration = Duration::from_secs(1);
/// When every connection is answering, how often to look again for one
/// that can make room.
const RECHECK: Duration = Duration::from_millis(100);

struct Guard {
    auth: Option<Arc<BasicAuth>>,
    headers: Vec<(axum::http::HeaderName, HeaderValue)>,
    request_timeout: Duration,
}

async fn guard(State(g): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    if let Some(auth) = g.auth.as_ref().filter(|_| req.uri().path() != "/-/healthy") {
        if let Some(user) = auth
            .authenticate(req.headers().get(header::AUTHORIZATION))
            .await
        {
            // The password user, not a certificate's, is who asks.
            req.extensions_mut().insert(Identity(user.into()));
        } else {
            let mut resp = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gridpane-backup-exporter\""),
            );
            // An unauthenticated client keeps no connection slot.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return with_headers(resp, &g.headers);
        }
    }
    let resp = match tokio::time::timeout(g.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "Request timed out\n").into_response(),
    };
    with_headers(resp, &g.headers)
}

fn with_headers(mut resp: Response, headers: &[(axum::http::HeaderName, HeaderValue)]) -> Response {
    for (k, v) in headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

/// Serves `router` on `listener` until `shutdown`, then lets open
/// connections finish for a few seconds.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = options.limits.clone();
    let web = options.web_config;
    let tls = web
        .as_ref()
        .and_then(|w| w.tls.clone())
        .map(tokio_rustls::TlsAcceptor::from);
    let g = Arc::new(Guard {
        auth: web.as_ref().and_then(|w| w.auth.clone()),
        headers: web.as_ref().map(|w| w.headers.clone()).unwrap_or_default(),
        request_timeout: limits.request_timeout,
    });
    let router = router.layer(middleware::from_fn_with_state(g, guard));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = Arc::new(Connections::new());
    let graceful = GracefulShutdown::new();

    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let permit = loop {
            if let Ok(p) = Arc::clone(&permits).try_acquire_owned() {
                break Some(p);
            }
            connections.evict_one();
            tokio::select! {
                p = Arc::clone(&permits).acquire_owned() => break p.ok(),
                _ = tokio::time::sleep(RECHECK) => {}
                _ = stopped(&mut shutdown) => break None,
            }
        };
        let Some(permit) = permit else { break };
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let limits = limits.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        let conn = Registration::new(&connections);
        tokio::spawn(async move {
            let _permit = permit;
            let tracked = Arc::clone(&conn.tracked);
            let serve = async move {
                match tls {
                    None => serve_connection(tcp, service, None, &limits, watcher, tracked).await,
                    Some(acceptor) => {
                        let Some(stream) = handshake(tcp, &acceptor, &limits).await else {
                            return;
                        };
                        match certificate_subject(&stream) {
                            Ok(subject) => {
                                serve_connection(
                                    stream, service, subject, &limits, watcher, tracked,
                                )
                                .await;
                            }
                            Err(ambiguous) => {
                                tracing::warn!(
                                    common_names = ambiguous.0,
                                    "client certificate refused: its subject holds more than one common name (CN), so which user it is would be ambiguous; every request on the connection answers 403"
                                );
                                let refusal = TowerToHyperService::new(ambiguous_certificate());
                                serve_connection(stream, refusal, None, &limits, watcher, tracked)
                                    .await;
                            }
                        }
                    }
                }
            };
            tokio::select! {
                () = serve => {}
                () = conn.tracked.evict.notified() => {
                    tracing::debug!("connection closed to make room for a new one");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after the drain period");
    }
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The TLS handshake, bounded in time. A client speaking plain HTTP gets a
/// plain 400 and the connection is closed.
async fn handshake(
    tcp: TcpStream,
    acceptor: &tokio_rustls::TlsAcceptor,
    limits: &Limits,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(limits.tls_handshake_timeout, tcp.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] != TLS_HANDSHAKE => {
            plain_http_refusal(tcp).await;
            return None;
        }
        Ok(Ok(1)) => {}
        _ => return None,
    }
    match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// A client certificate whose subject holds this many common names.
struct AmbiguousCertificate(usize);

/// The common name (CN) of the client certificate the handshake verified;
/// `None` without one (or without a readable CN). A subject with more than
/// one CN names no one for sure (tools disagree on which counts: Go's
/// exporter-toolkit takes the last), so it is refused.
fn certificate_subject(
    stream: &tokio_rustls::server::TlsStream<TcpStream>,
) -> Result<Option<Identity>, AmbiguousCertificate> {
    let Some(der) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
    else {
        return Ok(None);
    };
    subject_of(der.as_ref())
}

/// [`certificate_subject`] of a DER certificate.
fn subject_of(der: &[u8]) -> Result<Option<Identity>, AmbiguousCertificate> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Ok(None);
    };
    let names: Vec<_> = cert.subject().iter_common_name().collect();
    match names.as_slice() {
        [] => Ok(None),
        [one] => Ok(one.as_str().ok().map(|cn| Identity(cn.into()))),
        several => Err(AmbiguousCertificate(several.len())),
    }
}

/// What a connection with an [`AmbiguousCertificate`] gets: 403 on every
/// path.
fn ambiguous_certificate() -> Router {
    Router::new().fallback(|| async {
        let mut resp = (
            StatusCode::FORBIDDEN,
            "Forbidden: the client certificate names more than one common name (CN)\n",
        )
            .into_response();
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    })
}

/// Answers a plain-HTTP client on the TLS port with a 400, as Go servers
/// do, then closes. The request is read first (bounded), so that closing
/// does not reset the connection under the answer.
async fn plain_http_refusal(mut tcp: TcpStream) {
    use tokio::io::AsyncReadExt as _;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp
            .write_all(
                b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 48\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
            )
            .await;
        let _ = tcp.shutdown().await;
        // Drain until the client closes, so that it reads the whole answer.
        while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn serve_connection<I>(
    io: I,
    service: TowerToHyperService<Router>,
    subject: Option<Identity>,
    limits: &Limits,
    watcher: hyper_util::server::graceful::Watcher,
    tracked: Arc<Tracked>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = WriteTimeout::new(io, limits.write_timeout, Arc::clone(&tracked));
    let service = Answering {
        inner: service,
        subject,
        tracked,
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection closed with an error");
    }
}

/// No time: not waiting, or not stalled.
const NEVER: u64 = u64::MAX;

/// The open connections, and what each is doing, so that a new connection
/// can take the slot of one that is only waiting.
struct Connections {
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Tracked>>>,
}

/// One connection's state. Times are milliseconds since the epoch.
struct Tracked {
    /// Since when it has waited for a request; `NEVER` while answering one.
    waiting_since: AtomicU64,
    /// Since when its answer has made no progress; `NEVER` when it has.
    stalled_since: AtomicU64,
    epoch: Instant,
    evict: Notify,
}

impl Tracked {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    /// Since when it could give up its slot, if it can now.
    fn evictable_since(&self, now: u64) -> Option<u64> {
        let waiting = self.waiting_since.load(Ordering::Relaxed);
        if waiting != NEVER {
            return Some(waiting);
        }
        let stalled = self.stalled_since.load(Ordering::Relaxed);
        let stalled_for = Duration::from_millis(now.saturating_sub(stalled));
        (stalled != NEVER && stalled_for >= STALLED).then_some(stalled)
    }
}

impl Connections {
    fn new() -> Self {
        Connections {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn with_open<R>(&self, f: impl FnOnce(&mut HashMap<u64, Arc<Tracked>>) -> R) -> R {
        match self.open.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Closes the connection that has waited (or stalled) longest, if any
    /// may be closed; true if one was.
    fn evict_one(&self) -> bool {
        let victim = self.with_open(|open| {
            let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NEVER - 1);
            let id = open
                .iter()
                .filter_map(|(id, t)| t.evictable_since(now).map(|since| (since, *id)))
                .min()
                .map(|(_, id)| id)?;
            open.remove(&id)
        });
        match victim {
            Some(t) => {
                t.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's entry in [`Connections`], removed when it closes.
struct Registration {
    id: u64,
    tracked: Arc<Tracked>,
    connections: Arc<Connections>,
}

impl Registration {
    fn new(connections: &Arc<Connections>) -> Self {
        let id = connections.next_id.fetch_add(1, Ordering::Relaxed);
        let tracked = Arc::new(Tracked {
            waiting_since: AtomicU64::new(0),
            stalled_since: AtomicU64::new(NEVER),
            epoch: connections.epoch,
            evict: Notify::new(),
        });
        tracked
            .waiting_since
            .store(tracked.now(), Ordering::Relaxed);
        connections.with_open(|open| open.insert(id, Arc::clone(&tracked)));
        Registration {
            id,
            tracked,
            connections: Arc::clone(connections),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.connections.with_open(|open| open.remove(&self.id));
    }
}

/// Marks its connection as answering a request until the answer's body has
/// been sent (or dropped).
struct Busy(Arc<Tracked>);

impl Busy {
    fn start(tracked: Arc<Tracked>) -> Self {
        tracked.waiting_since.store(NEVER, Ordering::Relaxed);
        Busy(tracked)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.stalled_since.store(NEVER, Ordering::Relaxed);
        self.0.waiting_since.store(self.0.now(), Ordering::Relaxed);
    }
}

/// The router, marking the connection busy from a request's head to the
/// end of its answer, and giving each request the connection's client
/// certificate subject.
#[derive(Clone)]
struct Answering {
    inner: TowerToHyperService<Router>,
    subject: Option<Identity>,
    tracked: Arc<Tracked>,
}

type Answer = axum::http::Response<BusyBody>;

impl hyper::service::Service<axum::http::Request<Incoming>> for Answering {
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn call(&self, mut req: axum::http::Request<Incoming>) -> Self::Future {
        if let Some(subject) = &self.subject {
            req.extensions_mut().insert(subject.clone());
        }
        let busy = Busy::start(Arc::clone(&self.tracked));
        let answer = self.inner.call(req);
        Box::pin(async move {
            let resp = answer.await?;
            Ok(resp.map(|body| BusyBody { body, _busy: busy }))
        })
    }
}

/// An answer's body, holding its connection busy.
struct BusyBody {
    body: axum::body::Body,
    _busy: Busy,
}

impl HttpBody for BusyBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Fails writes that make no progress for `timeout`: a client that stops
/// reading cannot hold its connection (and a connection slot) forever.
struct WriteTimeout<I> {
    io: I,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    tracked: Arc<Tracked>,
}

impl<I> WriteTimeout<I> {
    fn new(io: I, timeout: Duration, tracked: Arc<Tracked>) -> Self {
        WriteTimeout {
            io,
            timeout,
            stalled: None,
            tracked,
        }
    }

    fn on_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let tracked = &self.tracked;
        let sleep = self.stalled.get_or_insert_with(|| {
            tracked
                .stalled_since
                .store(tracked.now(), Ordering::Relaxed);
            Box::pin(tokio::time::sleep(timeout))
        });
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "client stopped reading",
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    fn track<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => match self.on_pending(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                if self.stalled.take().is_some() {
                    self.tracked.stalled_since.store(NEVER, Ordering::Relaxed);
                }
                ready
            }
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WriteTimeout<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.track(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.track(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_flush(cx);
        this.track(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_shutdown(cx);
        this.track(cx, r)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    fn certificate_with(common_names: &[&str]) -> Vec<u8> {
        use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        for (i, cn) in common_names.iter().enumerate() {
            let kind = match i {
                0 => DnType::CommonName,
                _ => DnType::CustomDnType(vec![2, 5, 4, 3]),
            };
            params.distinguished_name.push(kind, *cn);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn a_certificate_names_its_user_only_with_exactly_one_common_name() {
        let user = |cns: &[&str]| subject_of(&certificate_with(cns)).map(|s| s.map(|i| i.0));
        assert!(matches!(user(&["alice"]), Ok(Some(cn)) if &*cn == "alice"));
        assert!(matches!(user(&[]), Ok(None)));
        assert!(matches!(
            user(&["alice", "mallory"]),
            Err(AmbiguousCertificate(2))
        ));
    }

    fn evicted(c: &Registration) -> bool {
        c.tracked.evict.notified().now_or_never().is_some()
    }

    #[test]
    fn room_is_made_by_the_longest_waiting_or_stalled_connection_never_a_busy_one() {
        let connections = Arc::new(Connections {
            epoch: Instant::now() - Duration::from_secs(10),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        });
        let waiting = Registration::new(&connections);
        waiting
            .tracked
            .waiting_since
            .store(9_000, Ordering::Relaxed);
        let busy = Registration::new(&connections);
        let _answering = Busy::start(Arc::clone(&busy.tracked));
        let stalled = Registration::new(&connections);
        let _stalled_answer = Busy::start(Arc::clone(&stalled.tracked));
        stalled
            .tracked
            .stalled_since
            .store(5_000, Ordering::Relaxed);
        let briefly_stalled = Registration::new(&connections);
        let _briefly = Busy::start(Arc::clone(&briefly_stalled.tracked));
        // Stalled for a fraction of a second: a client that is reading.
        let just_now = connections.epoch.elapsed().as_millis() as u64 - 200;
        briefly_stalled
            .tracked
            .stalled_since
            .store(just_now, Ordering::Relaxed);

        assert!(connections.evict_one());
        assert!(evicted(&stalled), "stalled for 5 s, the longest");
        assert!(connections.evict_one());
        assert!(evicted(&waiting));
        assert!(!connections.evict_one(), "only busy connections are left");
        assert!(!evicted(&busy) && !evicted(&briefly_stalled));

        // Its answer sent, a connection waits again and can make room.
        drop(_answering);
        assert!(connections.evict_one());
        assert!(evicted(&busy));
    }
}
