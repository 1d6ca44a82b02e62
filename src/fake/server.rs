//! The HTTP side: listener, request handling, faults, rate limits, records.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::response::IntoResponse as _;
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::faults::{self, TOO_FAST};
use super::fleet::Fleet;
use super::ratelimit::{Decision, Limiter};
use super::render::{self, Paging, Route};
use super::{FakeEndpoint, FakeOptions, Fault, FaultCount, RateLimit, RequestRecord};

/// Older records are dropped beyond this, so a long `--demo` run stays small.
const MAX_RECORDS: usize = 10_000;

/// A running fake GridPane on `127.0.0.1`. Dropping it stops serving.
pub struct FakeGridPane {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    shutdown: Option<oneshot::Sender<()>>,
}

struct Shared {
    base_url: String,
    state: Mutex<State>,
}

struct State {
    fleet: Fleet,
    opts: FakeOptions,
    faults: HashMap<FakeEndpoint, (Fault, FaultCount)>,
    requests: VecDeque<RequestRecord>,
    limiter: Limiter,
    rate_limited: u64,
}

impl FakeGridPane {
    /// Binds `127.0.0.1:0` and serves on the current Tokio runtime.
    pub async fn start(fleet: Fleet, opts: FakeOptions) -> io::Result<FakeGridPane> {
        let tcp = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = tcp.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            state: Mutex::new(State {
                fleet,
                opts,
                faults: HashMap::new(),
                requests: VecDeque::new(),
                limiter: Limiter::default(),
                rate_limited: 0,
            }),
        });
        let (tx, rx) = oneshot::channel::<()>();
        let listener = FakeListener {
            tcp,
            stop: stop.clone(),
        };
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<Connection>(),
        )
        .with_graceful_shutdown(async move {
            // Also fires when the sender is dropped.
            let _ = rx.await;
        });
        tokio::spawn(async move {
            if let Err(err) = serve.await {
                tracing::warn!(%err, "fake GridPane stopped");
            }
        });
        Ok(FakeGridPane {
            addr,
            shared,
            stop,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:PORT`; the API lives under `/oauth/api/v1/`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces any fault on `endpoint`. `Times(0)` just clears it.
    pub fn set_fault(&self, endpoint: FakeEndpoint, fault: Fault, count: FaultCount) {
        let mut state = self.shared.lock();
        match count {
            FaultCount::Times(0) => {
                state.faults.remove(&endpoint);
            }
            _ => {
                state.faults.insert(endpoint, (fault, count));
            }
        }
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Changes the fleet; later responses reflect it.
    pub fn update_fleet(&self, f: impl FnOnce(&mut Fleet)) {
        f(&mut self.shared.lock().fleet);
    }

    pub fn fleet(&self) -> Fleet {
        self.shared.lock().fleet.clone()
    }

    /// Every request so far (at most the last 10 000), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// How many 429 responses were served, by the rate limiter or by any fault.
    pub fn rate_limited_count(&self) -> u64 {
        self.shared.lock().rate_limited
    }

    /// Starts every rate-limit window afresh.
    pub fn reset_rate_limits(&self) {
        self.shared.lock().limiter = Limiter::default();
    }

    /// Stops accepting, closes idle connections and fails in-flight ones.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for FakeGridPane {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the handler needs from a request.
struct Incoming {
    method: Method,
    path: String,
    query: String,
    bearer: Option<String>,
    accept_json: bool,
    user_agent: Option<String>,
}

impl Incoming {
    fn new(req: &Request) -> Incoming {
        let headers = req.headers();
        let text = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let bearer = text(header::AUTHORIZATION).and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
        let accept_json = headers
            .get_all(header::ACCEPT)
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.contains("application/json")));
        Incoming {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or_default().to_owned(),
            bearer,
            accept_json,
            user_agent: text(header::USER_AGENT),
        }
    }
}

enum Outcome {
    Respond {
        response: Response,
        delay: Option<Duration>,
    },
    Refuse,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Outcome {
        Outcome::Respond {
            response,
            delay: None,
        }
    }
}

async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Connection>,
    req: Request,
) -> Response {
    let incoming = Incoming::new(&req);
    drop(req);
    if incoming.path.trim_matches('/') == super::bucket::DEMO_BUCKET
        && incoming.query.contains("list-type=2")
    {
        let body = super::bucket::listing(&shared.lock().fleet, chrono::Utc::now().timestamp());
        return ([(header::CONTENT_TYPE, "application/xml")], body).into_response();
    }
    let outcome = {
        let mut state = shared.lock();
        let route = Route::parse(&incoming.path);
        let authorized = incoming.bearer.as_deref() == Some(state.opts.token.as_str());
        let outcome = state.respond(&shared.base_url, route, &incoming, authorized);
        let status = match &outcome {
            Outcome::Respond { response, .. } => response.status().as_u16(),
            Outcome::Refuse => 0,
        };
        if status == 429 {
            state.rate_limited += 1;
        }
        tracing::debug!(method = %incoming.method, path = %incoming.path, status, "fake GridPane request");
        state.record(RequestRecord {
            endpoint: route.map(Route::endpoint),
            method: incoming.method.to_string(),
            path: incoming.path,
            query: incoming.query,
            status,
            authorized,
            accept_json: incoming.accept_json,
            user_agent: incoming.user_agent,
        });
        outcome
    };
    match outcome {
        Outcome::Respond { response, delay } => {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            response
        }
        Outcome::Refuse => {
            // Writing the (empty) response now fails, and hyper drops the connection.
            conn.kill.store(true, Ordering::SeqCst);
            Response::default()
        }
    }
}

impl State {
    fn record(&mut self, record: RequestRecord) {
        if self.requests.len() >= MAX_RECORDS {
            self.requests.pop_front();
        }
        self.requests.push_back(record);
    }

    fn take_fault(&mut self, endpoint: FakeEndpoint) -> Option<Fault> {
        let (fault, count) = self.faults.get_mut(&endpoint)?;
        let fault = fault.clone();
        match count {
            FaultCount::Always => {}
            FaultCount::Times(n) if *n > 1 => *n -= 1,
            FaultCount::Times(_) => {
                self.faults.remove(&endpoint);
            }
        }
        Some(fault)
    }

    /// Order: unknown route (404), auth (401), method (405), rate limit
    /// (429), then the endpoint's fault, if any, applied to the real answer.
    fn respond(
        &mut self,
        base_url: &str,
        route: Option<Route>,
        req: &Incoming,
        authorized: bool,
    ) -> Outcome {
        let Some(route) = route else {
            let message = format!(
                "The route {} could not be found.",
                req.path.trim_start_matches('/')
            );
            return faults::json_response(404, &json!({ "message": message })).into();
        };
        if !authorized {
            return unauthenticated().into();
        }
        if req.method != Method::GET {
            let message = format!(
                "The {} method is not supported for this route. Supported methods: GET, HEAD.",
                req.method
            );
            return faults::json_response(405, &json!({ "message": message })).into();
        }

        let endpoint = route.endpoint();
        let decision = match self.opts.rate_limit.clone() {
            Some(limit) => {
                let cost = if route == Route::Sites {
                    limit.site_page_cost
                } else {
                    1
                };
                let decision =
                    self.limiter
                        .charge(&limit, endpoint, cost, tokio::time::Instant::now());
                if !decision.allowed {
                    return too_fast(&decision).into();
                }
                Some(decision)
            }
            None => None,
        };

        let fault = self.take_fault(endpoint);
        if let (None, Route::BackupHistory(id)) = (&fault, route) {
            let hostile = self.fleet.site(id).and_then(|site| {
                super::history::hostile_response(
                    site,
                    self.fleet.history_shape,
                    super::history::history_now(&self.fleet),
                )
            });
            if let Some(response) = hostile {
                return response.into();
            }
        }
        let paging = Paging::from_query(
            &req.query,
            self.opts.default_per_page,
            self.opts.max_per_page,
        );
        let endless = matches!(fault, Some(Fault::EndlessPagination));
        let (status, mut body) = render::render(&self.fleet, base_url, route, paging, endless);
        let mut delay = None;
        let mut response = match fault {
            None | Some(Fault::EndlessPagination) => faults::json_response(status, &body),
            Some(Fault::Status(code)) => faults::status_response(code),
            Some(Fault::Unauthorized) => unauthenticated(),
            Some(Fault::RateLimited {
                retry_after_endpoint_secs,
            }) => {
                let numbers = decision.unwrap_or_else(|| {
                    let limit = RateLimit::gridpane();
                    Decision {
                        allowed: false,
                        endpoint_limit: limit.endpoint_per_minute,
                        endpoint_remaining: 0,
                        total_limit: limit.account_per_minute,
                        total_remaining: limit.account_per_minute.saturating_sub(1),
                        retry_after_secs: 0,
                    }
                });
                return too_fast(&Decision {
                    allowed: false,
                    endpoint_remaining: 0,
                    retry_after_secs: retry_after_endpoint_secs,
                    ..numbers
                })
                .into();
            }
            Some(Fault::RateLimitedBodyOnly) => {
                return faults::bytes_response(429, TOO_FAST.as_bytes().to_vec(), "text/plain")
                    .into();
            }
            Some(Fault::Delay(d)) => {
                delay = Some(d);
                faults::json_response(status, &body)
            }
            Some(Fault::TruncatedJson) => {
                let mut bytes = faults::json_bytes(&body);
                bytes.truncate(bytes.len() / 2);
                faults::bytes_response(status, bytes, "application/json")
            }
            Some(Fault::WrongTypes) => {
                faults::wrong_types(&mut body);
                faults::json_response(status, &body)
            }
            Some(Fault::MissingFields) => {
                faults::drop_ids(&mut body);
                faults::json_response(status, &body)
            }
            Some(Fault::SuccessFalse) => faults::json_response(200, &faults::success_false()),
            Some(Fault::HugeBody(bytes)) => faults::huge_response(bytes),
            Some(Fault::Trickle { bytes_per_sec }) => {
                faults::trickle_response(status, faults::json_bytes(&body), bytes_per_sec)
            }
            Some(Fault::Refuse) => return Outcome::Refuse,
            Some(Fault::Headers(extra)) => {
                let mut response = faults::json_response(status, &body);
                if let Some(decision) = decision {
                    rate_limit_headers(response.headers_mut(), &decision);
                }
                faults::add_headers(&mut response, &extra);
                return response.into();
            }
            Some(Fault::RateLimitedWith(headers)) => {
                let mut response = faults::json_response(429, &json!({ "message": TOO_FAST }));
                faults::add_headers(&mut response, &headers);
                return response.into();
            }
            Some(Fault::Body(text)) => {
                faults::bytes_response(200, text.into_bytes(), "application/json")
            }
            Some(Fault::Redirect(location)) => {
                let mut response = faults::bytes_response(302, Vec::new(), "text/html");
                faults::add_headers(&mut response, &[("location", location)]);
                return response.into();
            }
            Some(Fault::ManyItems(count)) => faults::many_items_response(count),
        };
        if let Some(decision) = decision {
            rate_limit_headers(response.headers_mut(), &decision);
        }
        Outcome::Respond { response, delay }
    }
}

fn unauthenticated() -> Response {
    faults::json_response(401, &json!({ "message": "Unauthenticated." }))
}

/// 429 with every rate-limit header, including the reset time and
/// `Retry-After-Endpoint`, but never `Retry-After`.
fn too_fast(decision: &Decision) -> Response {
    let mut response = faults::json_response(429, &json!({ "message": TOO_FAST }));
    let headers = response.headers_mut();
    rate_limit_headers(headers, decision);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    headers.insert(
        HeaderName::from_static("x-ratelimit-endpoint-reset"),
        HeaderValue::from(now.saturating_add(decision.retry_after_secs)),
    );
    headers.insert(
        HeaderName::from_static("retry-after-endpoint"),
        HeaderValue::from(decision.retry_after_secs),
    );
    response
}

fn rate_limit_headers(headers: &mut HeaderMap, d: &Decision) {
    for (name, value) in [
        ("x-ratelimit-endpoint-limit", d.endpoint_limit),
        ("x-ratelimit-endpoint-remaining", d.endpoint_remaining),
        ("x-ratelimit-total-limit", d.total_limit),
        ("x-ratelimit-total-remaining", d.total_remaining),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

// ---------------------------------------------------------------- connections

/// Accepts TCP connections wrapped in [`FakeIo`].
struct FakeListener {
    tcp: TcpListener,
    stop: Arc<AtomicBool>,
}

impl Listener for FakeListener {
    type Io = FakeIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (FakeIo, SocketAddr) {
        loop {
            match self.tcp.accept().await {
                Ok((tcp, addr)) => {
                    let _ = tcp.set_nodelay(true);
                    let io = FakeIo {
                        tcp,
                        kill: Arc::new(AtomicBool::new(false)),
                        stop: self.stop.clone(),
                    };
                    return (io, addr);
                }
                Err(err) => {
                    tracing::debug!(%err, "fake GridPane accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Lets a handler kill its own connection (for [`Fault::Refuse`]).
#[derive(Clone, Debug)]
struct Connection {
    kill: Arc<AtomicBool>,
}

impl Connected<IncomingStream<'_, FakeListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, FakeListener>) -> Connection {
        Connection {
            kill: stream.io().kill.clone(),
        }
    }
}

/// A TCP stream that fails its writes once its connection is killed or the
/// fake is shut down.
struct FakeIo {
    tcp: TcpStream,
    kill: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl FakeIo {
    fn dead(&self) -> bool {
        self.kill.load(Ordering::SeqCst) || self.stop.load(Ordering::SeqCst)
    }
}

fn aborted() -> io::Error {
    io::Error::from(io::ErrorKind::ConnectionAborted)
}

impl AsyncRead for FakeIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.dead() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for FakeIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.dead() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut this.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.dead() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
