//! A small in-process HTTP store that answers from a script, then by a rule, and
//! records every request it saw: the faults a real server cannot be made to give.

use std::collections::VecDeque;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kerbside_store::StoreConfig;

/// What the fake server saw of one request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) at: Instant,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
}

pub(crate) fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: String::new(),
    }
}

pub(crate) type Rule = fn(&str) -> Reply;

#[derive(Clone)]
struct Fake {
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// Answers once the script is used up, from the request body.
    rule: Rule,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn fake_handler(
    State(f): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    };
    let r = f
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| (f.rule)(&text));
    f.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        uri,
        headers,
        body: text,
    });
    let mut h = HeaderMap::new();
    for (k, v) in r.headers {
        h.insert(k, v.parse().unwrap());
    }
    (StatusCode::from_u16(r.status).unwrap(), h, r.body).into_response()
}

/// Starts a fake store on a free port.
pub(crate) async fn fake(script: Vec<Reply>, rule: Rule) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let f = Fake {
        script: Arc::new(Mutex::new(script.into())),
        rule,
        seen: Arc::default(),
    };
    let seen = Arc::clone(&f.seen);
    let app = axum::Router::new().fallback(fake_handler).with_state(f);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

pub(crate) fn fake_v2(addr: SocketAddr) -> StoreConfig {
    StoreConfig {
        url: format!("http://{addr}"),
        org: "o".into(),
        bucket: "b".into(),
        token: Some("t0k".into()),
        retry_initial_ms: 50,
        retry_max_ms: 1000,
        ..StoreConfig::default()
    }
}
