//! `kassa serve` binds its address before it changes anything: a second `serve --demo` started
//! on a busy port exits with "cannot listen on …" and leaves the running server's demo key (and
//! password) as they were. Two real processes, one data directory.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Stops the first server however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The status line of `GET path` with the bearer key.
fn get_status(port: u16, path: &str, key: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no answer".to_string();
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_string()
}

#[test]
fn a_second_demo_on_a_busy_port_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("first.log")).unwrap();
    let mut first = command(dir.path(), &["serve", "--demo", "--listen", &listen], &[])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = first.stdout.take().unwrap();
    let first = Running(first);
    let mut key = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(k) = line.trim().strip_prefix("API key:") {
            key = Some(k.trim().to_string());
        }
        if line.trim().starts_with("Dashboard:") {
            break;
        }
    }
    // Kept reading, so the server never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let key = key.unwrap_or_else(|| {
        panic!(
            "the first server printed no key: {}",
            std::fs::read_to_string(dir.path().join("first.log")).unwrap()
        )
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while get_status(port, "/readyz", "") != "HTTP/1.1 200 OK" {
        assert!(
            Instant::now() < deadline,
            "the first server never became ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get_status(port, "/v1/balance", &key), "HTTP/1.1 200 OK");

    let second = kassa(dir.path(), &["serve", "--demo", "--listen", &listen]);
    assert!(!second.ok, "{second:?}");
    assert!(
        second
            .stderr
            .contains(&format!("cannot listen on {listen}")),
        "{second:?}"
    );
    assert!(!second.stdout.contains("API key"), "{second:?}");
    // The first server's demo key was not revoked: it still works, after the second that the
    // first server may keep a key's partner in memory (README: what is kept in memory).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(get_status(port, "/v1/balance", &key), "HTTP/1.1 200 OK");
    drop(first);
}
