//! A chat webhook receiver on 127.0.0.1 for the notification tests: it
//! records the JSON bodies posted to it, or takes connections and never
//! answers (a receiver that hangs).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// How the receiver behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answer 200 `ok` and record the body.
    Accept,
    /// Take the connection, read nothing, never answer.
    Hang,
}

/// A receiver running on the current tokio runtime until dropped with it.
pub struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Listen on a free port of 127.0.0.1.
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/hooks/test",
            listener.local_addr().expect("address")
        );
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&bodies);
        tokio::spawn(async move {
            // Hanging connections are kept open here, never answered.
            let mut held = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                if behaviour == Behaviour::Hang {
                    held.push(stream);
                    continue;
                }
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let recorded = Arc::clone(&recorded);
                        async move {
                            let body = request
                                .into_body()
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            recorded.lock().expect("bodies").push(json);
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("ok"))))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, bodies }
    }

    /// The webhook URL to put in a workflow's `[notify]`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JSON bodies received so far.
    pub fn messages(&self) -> Vec<Value> {
        self.bodies.lock().expect("bodies").clone()
    }
}

/// A URL on 127.0.0.1 where nothing listens (connections are refused).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{address}/hooks/down")
}
