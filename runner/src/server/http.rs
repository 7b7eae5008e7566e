//! The HTTP listener of `strata serve`: GitHub's deliveries in, jobs out.
//!
//! [`serve`] accepts connections on a [`TcpListener`] the caller bound (tests
//! bind `127.0.0.1:0`) and answers each request with [`respond`], which never
//! waits for the work a delivery asks for: it checks the request in the order
//! that costs least and trusts nothing early — route, content type, headers,
//! size (`Content-Length` first, then a capped read), the signature over the
//! exact bytes, and only then the JSON — answers duplicates, pings and events
//! Strata does not act on at once, and puts the rest on a bounded channel as
//! a [`Job`] for the worker, answering 202. A full channel is a 503 with
//! `Retry-After`, never a wait: GitHub gives a delivery 10 seconds and does
//! not retry it.
//!
//! Deliveries are deduplicated by `X-GitHub-Delivery`, which GitHub keeps on
//! a redelivery, through [`Deliveries`]: the state database implements it;
//! [`MemoryDeliveries`] is the test double.
//!
//! Every body is plain text: a person reads it in the hook's "Recent
//! Deliveries" page.
//!
//! Besides the webhook, two routes for operators: `GET /metrics`, the
//! [`Metrics`] in Prometheus' text format (every delivery is counted there
//! by event and outcome), and `GET /healthz`, 200 with a small JSON body
//! when the state database answers ([`Probe`]) and every watched repository
//! was polled within three intervals, 503 with the reasons otherwise.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metrics::{DeliveryOutcome, Metrics};
use super::webhook::{Event, verify_signature};

/// What the listener needs: the webhook secret, the body cap, the record of
/// deliveries seen, and where jobs go.
pub struct Front {
    /// The webhook's secret, as configured on GitHub.
    pub secret: Vec<u8>,
    /// The largest body read, in bytes; a larger one is a 413.
    pub max_body: usize,
    /// Which delivery ids were handled already.
    pub deliveries: Arc<dyn Deliveries>,
    /// The worker's queue. Bounded: when it is full the listener answers 503.
    pub jobs: mpsc::Sender<Job>,
    /// What `/metrics` shows; shared with the worker.
    pub metrics: Arc<Metrics>,
    /// Asked by `/healthz` whether the state database answers (none: not checked).
    pub database: Option<Arc<dyn Probe>>,
    /// The durable queue deliveries go to, and how the worker is woken
    /// (none: straight to `jobs`, in memory).
    pub queue: Option<(Arc<dyn Queue>, Arc<tokio::sync::Notify>)>,
}

/// A dependency `/healthz` checks: `Err` says what is wrong, in words.
pub trait Probe: Send + Sync {
    /// Ask it now (a trivial query: it must answer fast).
    fn probe(&self) -> Result<(), String>;
}

impl Front {
    /// GitHub caps payloads at 25 MB; so do we by default.
    pub const DEFAULT_MAX_BODY: usize = 25 << 20;

    /// A front with the default body cap.
    pub fn new(
        secret: impl Into<Vec<u8>>,
        deliveries: Arc<dyn Deliveries>,
        jobs: mpsc::Sender<Job>,
    ) -> Self {
        Self {
            secret: secret.into(),
            max_body: Self::DEFAULT_MAX_BODY,
            deliveries,
            jobs,
            metrics: Arc::new(Metrics::new()),
            database: None,
            queue: None,
        }
    }

    /// Queue deliveries in `queue` (the state database several replicas
    /// share) and wake the worker through `wake`, instead of handing them to
    /// the worker in memory: a delivery survives a crash, and any replica
    /// may take it.
    pub fn with_queue(mut self, queue: Arc<dyn Queue>, wake: Arc<tokio::sync::Notify>) -> Self {
        self.queue = Some((queue, wake));
        self
    }

    /// Count into `metrics` (shared with the worker) instead of a private set.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Have `/healthz` ask `database` whether it answers.
    pub fn with_database(mut self, database: Arc<dyn Probe>) -> Self {
        self.database = Some(database);
        self
    }
}

impl fmt::Debug for Front {
    /// Everything but the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Front")
            .field("secret", &"<redacted>")
            .field("max_body", &self.max_body)
            .field("jobs_capacity", &self.jobs.max_capacity())
            .finish_non_exhaustive()
    }
}

/// The record of deliveries already accepted, so a redelivery (same
/// `X-GitHub-Delivery`) does not run twice.
pub trait Deliveries: Send + Sync {
    /// Record delivery `id` of event `event`; true the first time an id is
    /// recorded, false ever after. Must be atomic: two concurrent calls with
    /// one id return true once.
    fn first_seen(&self, id: &str, event: &str) -> bool;
}

/// The durable job queue several replicas share (the state database): a
/// delivery is queued there with its body, and any replica takes it.
pub trait Queue: Send + Sync {
    /// Queue delivery `id` of event `event` with its `payload` and `turn`:
    /// `Ok(true)` when queued, `Ok(false)` when it was queued before (a
    /// redelivery, or the same delivery sent to another replica).
    fn enqueue(&self, id: &str, event: &str, payload: &str, turn: &str) -> Result<bool, String>;

    /// How many jobs wait to be taken, across every replica.
    fn depth(&self) -> Result<u64, String>;
}

/// [`Deliveries`] in a set in memory, forgotten on restart.
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Default)]
pub struct MemoryDeliveries {
    // std Mutex: held for one insert, never across an await.
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

#[cfg(any(test, feature = "test-util"))]
impl MemoryDeliveries {
    /// How many deliveries were recorded.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Deliveries for MemoryDeliveries {
    fn first_seen(&self, id: &str, _event: &str) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned())
    }
}

/// An accepted delivery, for the worker.
#[derive(Debug, Clone)]
pub struct Job {
    /// The `X-GitHub-Delivery` id.
    pub delivery: String,
    /// What happened.
    pub event: Event,
    /// When the listener read it, to measure queueing time.
    pub received_at: Instant,
}

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What a 503 asks GitHub (or whoever redelivers) to wait, in seconds.
const RETRY_AFTER_SECONDS: &str = "30";

/// Accept connections on `listener` until `shutdown` is cancelled, then stop
/// accepting (the listener is closed, so new connections are refused), let
/// every request already being read or answered finish, close idle
/// keep-alive connections, and return once all connections are done.
pub async fn serve(listener: TcpListener, front: Arc<Front>, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                connections.spawn(connection(
                    stream,
                    peer,
                    Arc::clone(&front),
                    shutdown.clone(),
                ));
            }
            Err(error) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Serve one connection's requests until the peer closes it or shutdown
/// asks it to finish the request in flight and close.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    front: Arc<Front>,
    shutdown: CancellationToken,
) {
    let service = service_fn(move |request| {
        let front = Arc::clone(&front);
        async move { Ok::<_, Infallible>(respond(&front, request).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// Answer one request. Public so an embedding server can mount the webhook
/// elsewhere; [`serve`] calls it for every request.
pub async fn respond<B>(front: &Front, request: Request<B>) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match (request.method(), request.uri().path()) {
        (&Method::POST, "/webhook" | "/") => {
            let event = header_str(request.headers(), "x-github-event")
                .map(event_label)
                .unwrap_or("none");
            let (response, outcome) = webhook(front, request).await;
            front.metrics.delivery(event, outcome);
            response
        }
        (&Method::GET | &Method::HEAD, "/healthz") => healthz(front),
        (&Method::GET | &Method::HEAD, "/metrics") => metrics(front),
        (_, "/webhook" | "/") => method_not_allowed("POST"),
        (_, "/healthz" | "/metrics") => method_not_allowed("GET"),
        (_, path) => text(StatusCode::NOT_FOUND, format!("no route `{path}`")),
    }
}

/// The `event` label of a delivery: the events Strata knows by name, the
/// rest `other` (the header is the sender's to choose, and each label value
/// is a series kept forever).
fn event_label(name: &str) -> &'static str {
    match name {
        "pull_request" => "pull_request",
        "issue_comment" => "issue_comment",
        "push" => "push",
        "ping" => "ping",
        _ => "other",
    }
}

/// `GET /metrics`: Prometheus' text exposition format 0.0.4.
fn metrics(front: &Front) -> Response<Full<Bytes>> {
    let in_memory = front
        .jobs
        .max_capacity()
        .saturating_sub(front.jobs.capacity());
    let depth = match &front.queue {
        Some((queue, _)) => queue
            .depth()
            .map(|depth| usize::try_from(depth).unwrap_or(usize::MAX))
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot count the queued jobs");
                in_memory
            }),
        None => in_memory,
    };
    front.metrics.set_queue_depth(depth);
    let mut response = Response::new(Full::new(Bytes::from(front.metrics.render())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `GET /healthz`: the state database answers and the watched repositories
/// were polled recently; the reasons when not.
fn healthz(front: &Front) -> Response<Full<Bytes>> {
    let mut problems = Vec::new();
    let database = match &front.database {
        None => "not checked",
        Some(probe) => match probe.probe() {
            Ok(()) => "ok",
            Err(problem) => {
                problems.push(problem);
                "failing"
            }
        },
    };
    let watch = match front.metrics.health(std::time::SystemTime::now()) {
        Ok(()) => "ok",
        Err(problem) => {
            problems.push(problem);
            "failing"
        }
    };
    let (status, body) = if problems.is_empty() {
        (
            StatusCode::OK,
            serde_json::json!({ "status": "ok", "database": database, "watch": watch }),
        )
    } else {
        tracing::warn!(reasons = %problems.join("; "), "unhealthy");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "unhealthy", "database": database, "watch": watch, "reasons": problems }),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `POST /webhook`: check, read, verify, parse, deduplicate, enqueue; the
/// answer and how to count it.
async fn webhook<B>(front: &Front, request: Request<B>) -> (Response<Full<Bytes>>, DeliveryOutcome)
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let headers = request.headers();
    if let Some(problem) = content_type_problem(headers) {
        return (
            rejected(StatusCode::UNSUPPORTED_MEDIA_TYPE, &problem),
            DeliveryOutcome::BadPayload,
        );
    }
    let Some(event_name) = header_str(headers, "x-github-event").map(str::to_owned) else {
        return (
            rejected(StatusCode::BAD_REQUEST, "missing `X-GitHub-Event` header"),
            DeliveryOutcome::BadPayload,
        );
    };
    let Some(delivery) = header_str(headers, "x-github-delivery").map(str::to_owned) else {
        return (
            rejected(
                StatusCode::BAD_REQUEST,
                "missing `X-GitHub-Delivery` header",
            ),
            DeliveryOutcome::BadPayload,
        );
    };
    // A header that is not visible ASCII cannot be a signature: pass it on
    // as empty so it reads as malformed, not missing.
    let signature = headers
        .get("x-hub-signature-256")
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    if let Some(length) = content_length(headers)
        && length > front.max_body
    {
        return (too_large(front.max_body), DeliveryOutcome::TooLarge);
    }

    let body = match Limited::new(request.into_body(), front.max_body)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            // The 25 MB read so far is freed; give it back to the system
            // rather than keep it resident for good.
            drop(error);
            release_memory();
            return (too_large(front.max_body), DeliveryOutcome::TooLarge);
        }
        Err(error) => {
            return (
                rejected(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot read the body: {error}"),
                ),
                DeliveryOutcome::BadPayload,
            );
        }
    };

    if let Err(error) = verify_signature(&front.secret, &body, signature.as_deref()) {
        tracing::warn!(%delivery, event = %event_name, %error, "refused a delivery");
        return (
            text(
                StatusCode::UNAUTHORIZED,
                format!("{error}\nhelp: {}", error.help()),
            ),
            DeliveryOutcome::RejectedSignature,
        );
    }

    let event = match Event::parse(&event_name, &body) {
        Ok(event) => event,
        Err(error) => {
            return (
                rejected(StatusCode::BAD_REQUEST, &error.to_string()),
                DeliveryOutcome::BadPayload,
            );
        }
    };
    if let Event::Ping { hook_id, .. } = &event {
        tracing::info!(%delivery, hook_id, "ping");
        return (text(StatusCode::OK, "pong"), DeliveryOutcome::Ping);
    }
    if let Some(reason) = event.ignored_because() {
        tracing::info!(%delivery, %event, %reason, "ignored a delivery");
        return (
            text(StatusCode::OK, format!("ignored: {reason}")),
            DeliveryOutcome::Ignored,
        );
    }
    match &front.queue {
        Some((queue, wake)) => enqueue_durably(queue.as_ref(), wake, delivery, event, &body),
        None => enqueue(front, delivery, event),
    }
}

/// Queue an actionable event in the shared queue, unless its delivery was
/// queued already (here, or at another replica).
fn enqueue_durably(
    queue: &dyn Queue,
    wake: &tokio::sync::Notify,
    delivery: String,
    event: Event,
    body: &[u8],
) -> (Response<Full<Bytes>>, DeliveryOutcome) {
    let payload = String::from_utf8_lossy(body);
    match queue.enqueue(&delivery, event.name(), &payload, &event.turn()) {
        Ok(true) => {
            tracing::info!(%delivery, %event, "queued a job");
            wake.notify_one();
            (
                text(StatusCode::ACCEPTED, format!("queued: {event}")),
                DeliveryOutcome::Accepted,
            )
        }
        Ok(false) => {
            tracing::info!(%delivery, %event, "delivery already handled");
            (
                text(
                    StatusCode::OK,
                    format!("already handled: delivery `{delivery}`"),
                ),
                DeliveryOutcome::Duplicate,
            )
        }
        Err(error) => {
            tracing::error!(%delivery, %event, %error, "cannot queue a delivery");
            let mut response = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy: the job queue cannot be written; redeliver later",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            (response, DeliveryOutcome::Busy)
        }
    }
}

/// Queue an actionable event, unless its delivery was handled already.
/// Queue space is reserved before the delivery is recorded, so a delivery
/// refused with 503 is not remembered and its redelivery runs.
fn enqueue(
    front: &Front,
    delivery: String,
    event: Event,
) -> (Response<Full<Bytes>>, DeliveryOutcome) {
    let permit = match front.jobs.try_reserve() {
        Ok(permit) => permit,
        Err(TrySendError::Full(())) => {
            tracing::warn!(%delivery, %event, "job queue full; refused a delivery");
            let mut response = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy: the job queue is full; redeliver later",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            return (response, DeliveryOutcome::Busy);
        }
        Err(TrySendError::Closed(())) => {
            return (
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting down: no worker takes jobs",
                ),
                DeliveryOutcome::Busy,
            );
        }
    };
    if !front.deliveries.first_seen(&delivery, event.name()) {
        tracing::info!(%delivery, %event, "delivery already handled");
        return (
            text(
                StatusCode::OK,
                format!("already handled: delivery `{delivery}`"),
            ),
            DeliveryOutcome::Duplicate,
        );
    }
    let reply = format!("queued: {event}");
    tracing::info!(%delivery, %event, "queued a job");
    permit.send(Job {
        delivery,
        event,
        received_at: Instant::now(),
    });
    (text(StatusCode::ACCEPTED, reply), DeliveryOutcome::Accepted)
}

/// What is wrong with the request's `Content-Type`, if anything. JSON only:
/// GitHub's "Content type: application/x-www-form-urlencoded" wraps the
/// payload in `payload=`, which we refuse with how to fix it.
fn content_type_problem(headers: &HeaderMap) -> Option<String> {
    let given = header_str(headers, "content-type").unwrap_or_default();
    let media_type = given
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => None,
        "application/x-www-form-urlencoded" => Some(
            "form-encoded payloads are not supported\n\
             help: set the webhook's content type to `application/json` \
             (repository settings → Webhooks → Edit → Content type)"
                .to_owned(),
        ),
        "" => Some("missing `Content-Type`; expected `application/json`".to_owned()),
        _ => Some(format!(
            "unsupported `Content-Type: {given}`; expected `application/json`"
        )),
    }
}

/// A header's value, when present and visible ASCII.
fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    header_str(headers, "content-length").and_then(|value| value.trim().parse().ok())
}

fn too_large(max_body: usize) -> Response<Full<Bytes>> {
    rejected(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("body larger than {max_body} bytes"),
    )
}

/// A 4xx answer, logged.
fn rejected(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    tracing::warn!(
        status = status.as_u16(),
        reason = message,
        "refused a request"
    );
    text(status, message.to_owned())
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed; use {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// A plain-text response, ending in a newline.
fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    let mut body = body.into();
    body.push('\n');
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Return freed heap memory to the operating system (glibc keeps the
/// chunks of a refused 25 MB body in its arenas otherwise).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "glibc's malloc_trim has no safe wrapper; it takes no pointers"
)]
fn release_memory() {
    // SAFETY: `malloc_trim` only walks the allocator's own free lists and
    // unmaps whole free pages; it reads and writes no memory of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Return freed heap memory to the operating system (a no-op where the
/// allocator does so itself).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_memory() {}
