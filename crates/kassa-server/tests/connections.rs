//! Kassa's accept loop over real sockets (docs/api.md §8, "Connections"): the head, body and idle
//! timeouts, the connection cap, the peer address every request carries and graceful shutdown.
//! The timeouts are configured short so that each case takes about a second.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::routing::get;
use common::TestApp;
use kassa_server::config::HttpConfig;
use kassa_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

/// How much later than its timeout a connection may be closed on a busy test machine.
const SLACK: Duration = Duration::from_millis(700);
/// How much earlier than its timeout a connection may be closed (timer granularity).
const EARLY: Duration = Duration::from_millis(50);

fn short_timeouts() -> HttpConfig {
    HttpConfig {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(700),
        ..Config::default().http
    }
}

/// The real application, served by `kassa_server::serve` on a random port, with two test routes:
/// `/test/peer` answers the peer address it was given, `/test/slow` answers after 400 ms.
struct Server {
    addr: SocketAddr,
    app: TestApp,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

async fn serve(http: HttpConfig) -> Server {
    let app = TestApp::sqlite().await;
    let router = app
        .app
        .router()
        .route(
            "/test/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/test/slow",
            get(|| async {
                sleep(Duration::from_millis(400)).await;
                "done"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        kassa_server::serve(listener, router, &http, async {
            let _ = rx.await;
        })
        .await
    });
    Server {
        addr,
        app,
        shutdown: Some(tx),
        task,
    }
}

impl Server {
    async fn connect(&self) -> Client {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let local = stream.local_addr().unwrap();
        let (read, write) = stream.into_split();
        Client {
            read,
            write: Some(write),
            buf: Vec::new(),
            local,
        }
    }
}

/// A hand-driven HTTP/1.1 client on one connection.
struct Client {
    read: OwnedReadHalf,
    write: Option<OwnedWriteHalf>,
    buf: Vec<u8>,
    local: SocketAddr,
}

#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    async fn send(&mut self, text: &str) {
        let write = self.write.as_mut().expect("still writable");
        write.write_all(text.as_bytes()).await.unwrap();
    }

    async fn get(&mut self, path: &str) -> Raw {
        self.send(&format!("GET {path} HTTP/1.1\r\nHost: kassa.test\r\n\r\n"))
            .await;
        self.response().await
    }

    /// Sends one more byte every `every` from now on, until the connection refuses it.
    fn trickle(&mut self, byte: u8, every: Duration) -> JoinHandle<()> {
        let mut write = self.write.take().expect("still writable");
        tokio::spawn(async move {
            loop {
                sleep(every).await;
                if write.write_all(&[byte]).await.is_err() {
                    return;
                }
            }
        })
    }

    /// Reads more bytes; false once the server has closed the connection.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match timeout(Duration::from_secs(5), self.read.read(&mut chunk)).await {
            Err(_) => panic!("nothing from the server within 5 s"),
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    async fn response(&mut self) -> Raw {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(self.fill().await, "connection closed before an answer");
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        let status: u16 = status.parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .expect("answers have a Content-Length");
        while self.buf.len() < head_end + 4 + length {
            assert!(self.fill().await, "connection closed inside an answer");
        }
        let body = String::from_utf8_lossy(&self.buf[head_end + 4..head_end + 4 + length]);
        let raw = Raw {
            status,
            headers,
            body: body.into_owned(),
        };
        self.buf.drain(..head_end + 4 + length);
        raw
    }

    /// Waits until the server closes the connection (it must send nothing more first) and
    /// returns when.
    async fn closed(&mut self) -> Instant {
        let more = self.fill().await;
        assert!(
            !more,
            "expected the connection to close, got {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        Instant::now()
    }

    /// Whether the server answers anything (or closes) within `wait`.
    async fn hears_within(&mut self, wait: Duration) -> bool {
        let mut chunk = [0u8; 4096];
        match timeout(wait, self.read.read(&mut chunk)).await {
            Err(_) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Ok(Err(_)) => true,
        }
    }
}

fn assert_between(elapsed: Duration, limit: Duration, what: &str) {
    assert!(
        elapsed + EARLY >= limit && elapsed <= limit + SLACK,
        "{what}: closed after {elapsed:?}, limit {limit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_share_a_kept_alive_connection_with_the_default_settings() {
    let server = serve(Config::default().http).await;
    let mut client = server.connect().await;
    for _ in 0..3 {
        let resp = client.get("/static/kassa.css").await;
        assert_eq!(resp.status, 200, "{resp:?}");
        assert!(resp.body.contains('{'), "the stylesheet");
        assert_eq!(resp.header("connection"), None);
    }
    let resp = client.get("/v1/no-such-thing").await;
    assert_eq!(resp.status, 404);
    assert!(
        resp.body.contains("\"type\":\"not_found\""),
        "{}",
        resp.body
    );
    assert!(
        !client.hears_within(Duration::from_millis(300)).await,
        "still open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_carries_its_peer_address() {
    let server = serve(short_timeouts()).await;
    let mut client = server.connect().await;
    let resp = client.get("/test/peer").await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, client.local.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_byte_by_byte_is_cut_off_at_the_header_timeout() {
    let limits = short_timeouts();
    let server = serve(limits.clone()).await;
    let mut client = server.connect().await;
    let start = Instant::now();
    client
        .send("GET /static/kassa.css HTTP/1.1\r\nHost: kassa.test\r\nX-Slow: ")
        .await;
    let trickle = client.trickle(b'a', Duration::from_millis(50));
    let closed = client.closed().await;
    trickle.abort();
    assert_between(closed - start, limits.header_timeout, "trickled head");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_new_connection_is_closed_at_the_header_timeout() {
    let limits = short_timeouts();
    let server = serve(limits.clone()).await;
    let start = Instant::now();
    let mut client = server.connect().await;
    let closed = client.closed().await;
    assert_between(closed - start, limits.header_timeout, "silent connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_begun_after_idling_gets_the_header_timeout_not_the_idle_one() {
    let limits = HttpConfig {
        idle_timeout: Duration::from_secs(3),
        ..short_timeouts()
    };
    let server = serve(limits.clone()).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/static/kassa.css").await.status, 200);
    sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    client
        .send("GET /static/kassa.css HTTP/1.1\r\nHost: kass")
        .await;
    let closed = client.closed().await;
    assert_between(closed - start, limits.header_timeout, "head after idling");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_idle_timeout_and_not_before() {
    let limits = short_timeouts();
    let server = serve(limits.clone()).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/static/kassa.css").await.status, 200);
    // Half the idle timeout (and longer than the head timeout): still served.
    sleep(limits.idle_timeout / 2).await;
    assert_eq!(client.get("/static/kassa.css").await.status, 200);
    let answered = Instant::now();
    let closed = client.closed().await;
    assert_between(closed - answered, limits.idle_timeout, "idle connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withheld_api_body_is_answered_malformed_json_and_the_connection_closed() {
    let limits = short_timeouts();
    let server = serve(limits.clone()).await;
    let partner = server.app.partner().await;
    let mut client = server.connect().await;
    let start = Instant::now();
    client
        .send(&format!(
            "POST /v1/payment-requests HTTP/1.1\r\nHost: kassa.test\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"amount\":",
            partner.key
        ))
        .await;
    // The body keeps coming, a byte at a time: the deadline is for all of it.
    let trickle = client.trickle(b' ', Duration::from_millis(50));
    let resp = client.response().await;
    let answered = start.elapsed();
    assert_eq!(resp.status, 400, "{resp:?}");
    assert!(
        resp.body.contains("\"code\":\"malformed_json\""),
        "{}",
        resp.body
    );
    assert!(
        resp.body.contains("did not arrive within 500 ms"),
        "{}",
        resp.body
    );
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    client.closed().await;
    trickle.abort();
    assert_between(answered, limits.body_timeout, "withheld API body");
    let r = server
        .app
        .api(
            &partner.key,
            axum::http::Method::GET,
            "/v1/payment-requests",
            None,
        )
        .await;
    assert_eq!(
        r.json()["data"].as_array().map(Vec::len),
        Some(0),
        "nothing created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withheld_form_gets_a_plain_timeout_page() {
    let limits = short_timeouts();
    let server = serve(limits.clone()).await;
    let mut client = server.connect().await;
    let start = Instant::now();
    client
        .send(
            "POST /dashboard/login HTTP/1.1\r\nHost: kassa.test\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a",
        )
        .await;
    let resp = client.response().await;
    let answered = start.elapsed();
    assert_eq!(resp.status, 408, "{resp:?}");
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("text/html"),
        "{resp:?}"
    );
    assert!(resp.body.contains("took too long"), "{}", resp.body);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(resp.header("x-frame-options"), Some("DENY"));
    client.closed().await;
    assert_between(answered, limits.body_timeout, "withheld form");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let limits = HttpConfig {
        max_connections: 5,
        ..Config::default().http
    };
    let server = serve(limits).await;
    let mut open = Vec::new();
    for _ in 0..5 {
        let mut client = server.connect().await;
        assert_eq!(client.get("/static/kassa.css").await.status, 200);
        open.push(client);
    }
    let mut sixth = server.connect().await;
    sixth
        .send("GET /static/kassa.css HTTP/1.1\r\nHost: kassa.test\r\n\r\n")
        .await;
    assert!(
        !sixth.hears_within(Duration::from_millis(600)).await,
        "the sixth connection is not served while five are open"
    );
    drop(open.pop());
    let resp = timeout(Duration::from_secs(2), sixth.response())
        .await
        .expect("served once a connection closed");
    assert_eq!(resp.status, 200);
    // The others were kept waiting, not dropped.
    for client in &mut open {
        assert_eq!(client.get("/static/kassa.css").await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish_and_closes_idle_connections() {
    let mut server = serve(Config::default().http).await;
    let mut idle = server.connect().await;
    assert_eq!(idle.get("/static/kassa.css").await.status, 200);
    let mut busy = server.connect().await;
    busy.send("GET /test/slow HTTP/1.1\r\nHost: kassa.test\r\n\r\n")
        .await;
    sleep(Duration::from_millis(100)).await;
    server.shutdown.take().unwrap().send(()).unwrap();
    idle.closed().await;
    let resp = busy.response().await;
    assert_eq!((resp.status, resp.body.as_str()), (200, "done"));
    busy.closed().await;
    timeout(Duration::from_secs(2), &mut server.task)
        .await
        .expect("serve returns once connections are done")
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer listening"
    );
}
