//! Kassa's own accept loop: HTTP/1.1 connections served by hyper under the connection limits of
//! docs/api.md §8 (`http.*`, [`HttpConfig`]), every request carrying its peer address as axum's
//! [`ConnectInfo<SocketAddr>`] (the client IP the abuse limits count by).
//!
//! What each limit means here:
//! - **Request head** (`headerTimeout`): a new connection must deliver its first request head
//!   within the timeout of being accepted; on a kept-alive connection the timeout starts at the
//!   first byte of the next request. A head that does not arrive in time closes the connection
//!   without an answer. hyper's own `header_read_timeout` is not used: it starts as soon as a
//!   connection goes idle, which would close every idle keep-alive connection after the head
//!   timeout rather than the idle one.
//! - **Idle** (`idleTimeout`): a kept-alive connection with no request in flight and no byte of a
//!   next request is closed this long after its last answer was sent. (A pipelined request whose
//!   first bytes arrive while the previous answer is still being sent is covered by the idle
//!   timeout from then, not the head timeout.)
//! - **Body** (`bodyTimeout`): the whole body must arrive within the timeout of the head being
//!   read, however it trickles. Reading it past that fails; when the route then answers with a
//!   client error, that answer becomes `400 malformed_json` ("the request body did not arrive
//!   within …") under `/v1` and a plain `408` page elsewhere, and the connection is closed.
//!   Time spent by the handler itself is not limited.
//! - **Connections** (`maxConnections`): at the cap the loop stops accepting until a connection
//!   closes; new connections wait in the kernel's backlog rather than being accepted and dropped.
//!
//! Accept errors (out of file descriptors, …) are logged and retried after a short pause. On
//! shutdown the loop stops accepting, idle connections are closed and requests in flight finish.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::{BoxError, Router};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::pages::{self, Brand};

/// How long the loop pauses after an accept error that is not one connection's own fault.
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and returns once
/// every connection has finished its requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    http: &HttpConfig,
    shutdown: impl Future<Output = ()>,
) {
    let limits = Arc::new(http.clone());
    let slots = Arc::new(Semaphore::new(http.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the connection semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = Connection {
                    peer,
                    router: router.clone(),
                    limits: limits.clone(),
                    _slot: slot,
                };
                tokio::spawn(connection.run(stream, graceful.watcher()));
            }
            // The client gave up before we accepted: nothing to do.
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "a connection closed before it was accepted")
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot accept connections; retrying in a second");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_RETRY) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One accepted connection; holds its slot of `maxConnections` until it is dropped.
struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: Arc<HttpConfig>,
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self, stream: TcpStream, watcher: Watcher) {
        let Connection {
            peer,
            router,
            limits,
            _slot,
        } = self;
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            stream,
            activity: activity.clone(),
        });
        let body_timeout = limits.body_timeout;
        let service_activity = activity.clone();
        let service = hyper::service::service_fn(move |req| {
            let in_flight = service_activity.begin_request();
            answer(req, peer, router.clone(), body_timeout, in_flight)
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.header_read_timeout(None);
        let conn = watcher.watch(builder.serve_connection(io, service));
        // `biased`: the connection is polled first on every wake-up, so the watchdog, polled right
        // after in the same pass, always sees what the connection just did (a head read, an
        // answer finished) and needs no wake-ups of its own beyond its timer.
        tokio::select! {
            biased;
            served = conn => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            reason = watchdog(&activity, &limits) => {
                tracing::debug!(%peer, "closing the connection: {reason}");
            }
        }
    }
}

/// Resolves when the connection has been silent too long: no head within the head timeout, or
/// idle past the idle timeout. Never while a request is in flight.
async fn watchdog(activity: &Activity, limits: &HttpConfig) -> &'static str {
    let mut timer = pin!(tokio::time::sleep(Duration::ZERO));
    poll_fn(|cx| {
        let Some((deadline, reason)) = activity.deadline(limits) else {
            return Poll::Pending;
        };
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(reason)
    })
    .await
}

/// What the connection is doing, as far as its timeouts care.
struct Activity(Mutex<ActivityState>);

struct ActivityState {
    /// Requests whose answer is not yet fully handed to the connection.
    in_flight: usize,
    /// When the connection was accepted or its last answer was done.
    since: Instant,
    /// Whether any request has been answered (before that, the head timeout runs from `since`).
    answered: bool,
    /// The first byte read after the connection went idle.
    head_started: Option<Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity(Mutex::new(ActivityState {
            in_flight: 0,
            since: Instant::now(),
            answered: false,
            head_started: None,
        }))
    }

    fn state(&self) -> MutexGuard<'_, ActivityState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bytes_read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
        }
    }

    fn begin_request(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.head_started = None;
        InFlight(self.clone())
    }

    /// When the connection is to be closed if nothing changes, and why; `None` while busy.
    fn deadline(&self, limits: &HttpConfig) -> Option<(Instant, &'static str)> {
        const HEAD: &str = "the request head did not arrive in time";
        let state = self.state();
        if state.in_flight > 0 {
            None
        } else if !state.answered {
            Some((state.since + limits.header_timeout, HEAD))
        } else if let Some(started) = state.head_started {
            Some((started + limits.header_timeout, HEAD))
        } else {
            Some((state.since + limits.idle_timeout, "idle"))
        }
    }
}

/// A request in flight; dropped with its answer's body, when the answer is done.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.since = Instant::now();
            state.answered = true;
            state.head_started = None;
        }
    }
}

/// The socket, telling [`Activity`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// One request through the router: with its peer address, its body under the body deadline, and
/// its answer holding the request in flight until it is sent.
async fn answer(
    req: Request<Incoming>,
    peer: SocketAddr,
    router: Router,
    body_timeout: Duration,
    in_flight: InFlight,
) -> Result<Response<Answer>, Infallible> {
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let api = parts.uri.path() == "/v1" || parts.uri.path().starts_with("/v1/");
    let late = Arc::new(AtomicBool::new(false));
    let body = DeadlineBody {
        inner: body,
        deadline: Instant::now() + body_timeout,
        timer: None,
        late: late.clone(),
    };
    let Ok(mut resp) = router.oneshot(Request::from_parts(parts, body)).await;
    if late.load(Ordering::Relaxed) {
        tracing::debug!(%peer, "the request body did not arrive in time; closing the connection");
        if resp.status().is_client_error() {
            resp = body_timeout_answer(resp, api, body_timeout);
        }
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(resp.map(|body| Answer {
        inner: body,
        _in_flight: in_flight,
    }))
}

/// The route's answer to a body that came too late, made to say so; it keeps the headers the
/// application's layers put on it (security headers and the like).
fn body_timeout_answer(original: Response<Body>, api: bool, limit: Duration) -> Response<Body> {
    let within = if limit.subsec_millis() == 0 {
        format!("{} s", limit.as_secs())
    } else {
        format!("{} ms", limit.as_millis())
    };
    let replacement = if api {
        ApiError::malformed_json(format!("the request body did not arrive within {within}"))
            .into_response()
    } else {
        pages::message(
            StatusCode::REQUEST_TIMEOUT,
            Brand::kassa(),
            "Request timed out",
            "The form took too long to arrive",
            &format!("It has to arrive within {within}. Please go back and send it again."),
        )
    };
    let (mut parts, _) = original.into_parts();
    let (new, body) = replacement.into_parts();
    parts.status = new.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(new.headers);
    Response::from_parts(parts, body)
}

/// A request body that fails once its deadline passes with part of it still missing.
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    /// Made the first time the body has to wait.
    timer: Option<Pin<Box<Sleep>>>,
    late: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimeout;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BoxError::from)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(timer.as_mut().poll(cx));
        this.late.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(BodyTimeout.into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body, keeping its request in flight until hyper is done with it.
struct Answer {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
