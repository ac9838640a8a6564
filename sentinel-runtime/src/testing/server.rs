//! The HTTP/1.1 plumbing: the accept loop, and the dispatch of each request to its route.

use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::routes::{batch, export, guard, list_escalations, resolve};
use super::{adjudication, lock, Rule, Seen};
use crate::protocol;

pub(super) async fn serve(
    listener: TcpListener,
    seen: Arc<Mutex<Seen>>,
    rule: Arc<Rule>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                seen.lock().unwrap_or_else(|e| e.into_inner()).connections += 1;
                let (seen, rule) = (Arc::clone(&seen), Arc::clone(&rule));
                let service = service_fn(move |request| answer(request, Arc::clone(&seen), Arc::clone(&rule)));
                connections.spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        }
    }
    // Dropping the tasks closes every connection, idle keep-alive ones included.
    connections.abort_all();
}

async fn answer(
    request: Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
    rule: Arc<Rule>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = crate::protocol::header_pairs(request.headers());
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(json_response(400, &json!({"error": "unreadable body"}))),
    };
    if let Some((status, reply)) = adjudication::route(&method, &path, &body, &seen, &rule).await {
        return Ok(json_response(status, &reply));
    }
    let resolve_id = protocol::resolve_id(&path).map(str::to_owned);
    let record_id = path
        .strip_prefix(protocol::RECORDS)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let (status, reply) = match (method, path.as_str(), resolve_id, record_id) {
        (hyper::Method::GET, "/healthz", ..) => (200, json!({"status": "ok"})),
        (hyper::Method::GET, "/readyz", ..) => (200, json!({"status": "ready"})),
        (hyper::Method::POST, protocol::GUARD, ..) => guard(&body, headers, &seen, rule).await,
        (hyper::Method::POST, protocol::GUARD_BATCH, ..) => batch(&body, headers, &seen, rule).await,
        (hyper::Method::GET, protocol::ESCALATIONS, ..) => (200, list_escalations(&lock(&seen), &query)),
        (hyper::Method::POST, _, Some(id), _) => resolve(&mut lock(&seen), &id, &body),
        (hyper::Method::GET, protocol::RECORDS, ..) => (200, Value::Array(lock(&seen).chain.query(&query).0)),
        (hyper::Method::GET, _, _, Some(id)) => match lock(&seen).chain.get(&id) {
            Some(record) => (200, record.clone()),
            None => (404, json!({"error": "record not found"})),
        },
        (hyper::Method::GET, "/v1/export", ..) => (200, export(&lock(&seen), &query)),
        // The mock's chain is built and signed in one place; it is intact by construction.
        (hyper::Method::GET, "/v1/verify", ..) => (200, json!({"ok": true})),
        _ => (404, json!({"error": "not found"})),
    };
    Ok(json_response(status, &reply))
}

fn json_response(status: u16, reply: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.to_string())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
