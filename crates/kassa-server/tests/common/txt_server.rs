//! A tiny authoritative DNS server on loopback, for billing host verification: it answers TXT
//! questions from what the test says (over UDP and TCP, on one port), NXDOMAIN for names it was
//! not told of, and can fall silent to make a lookup time out. Kassa's real resolver (hickory,
//! through `dns.resolver`) asks it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

#[derive(Default)]
struct Zone {
    /// TXT values by lowercase name without the final dot.
    records: Mutex<HashMap<String, Vec<String>>>,
    silent: AtomicBool,
    questions: AtomicUsize,
}

pub struct TxtServer {
    pub addr: SocketAddr,
    zone: Arc<Zone>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for TxtServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl TxtServer {
    /// Listens on a free loopback port (UDP and TCP).
    pub async fn start() -> TxtServer {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = udp.local_addr().unwrap();
            if let Ok(tcp) = TcpListener::bind(addr).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let zone = Arc::new(Zone::default());
        let udp_zone = zone.clone();
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                if let Some(answer) = udp_zone.answer(&buf[..n]) {
                    let _ = udp.send_to(&answer, peer).await;
                }
            }
        });
        let tcp_zone = zone.clone();
        let tcp_task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = tcp.accept().await {
                let zone = tcp_zone.clone();
                tokio::spawn(async move {
                    loop {
                        let Ok(len) = conn.read_u16().await else {
                            return;
                        };
                        let mut buf = vec![0u8; usize::from(len)];
                        if conn.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        let Some(answer) = zone.answer(&buf) else {
                            return;
                        };
                        let _ = conn.write_u16(answer.len() as u16).await;
                        let _ = conn.write_all(&answer).await;
                    }
                });
            }
        });
        TxtServer {
            addr,
            zone,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// From now on `name` has these TXT records (none: the name exists, without TXT records).
    pub fn set(&self, name: &str, values: &[&str]) {
        self.zone.records.lock().unwrap().insert(
            name.trim_end_matches('.').to_ascii_lowercase(),
            values.iter().map(|v| v.to_string()).collect(),
        );
    }

    /// Stops answering (questions still arrive and are counted).
    pub fn go_silent(&self) {
        self.zone.silent.store(true, Ordering::SeqCst);
    }

    /// How many questions arrived.
    pub fn questions(&self) -> usize {
        self.zone.questions.load(Ordering::SeqCst)
    }
}

impl Zone {
    fn answer(&self, question: &[u8]) -> Option<Vec<u8>> {
        self.questions.fetch_add(1, Ordering::SeqCst);
        if self.silent.load(Ordering::SeqCst) {
            return None;
        }
        let request = Message::from_vec(question).ok()?;
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        for query in &request.queries {
            response.add_query(query.clone());
            let name = query
                .name()
                .to_ascii()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            match self.records.lock().unwrap().get(&name) {
                None => response.metadata.response_code = ResponseCode::NXDomain,
                Some(values) if query.query_type() == RecordType::TXT => {
                    for value in values {
                        response.add_answer(Record::from_rdata(
                            query.name().clone(),
                            60,
                            RData::TXT(TXT::new(vec![value.clone()])),
                        ));
                    }
                }
                Some(_) => {}
            }
        }
        response.to_vec().ok()
    }
}
