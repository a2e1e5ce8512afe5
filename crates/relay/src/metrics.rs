//! Metrics for Prometheus and a health check, over plain HTTP on an address of the operator's
//! choosing (`metrics = "127.0.0.1:9464"` / `--metrics ADDR`; off by default). Bind it to the
//! loopback or a management network: it tells who is busy, not who is connected, but it has no
//! login.
//!
//! `GET /metrics` (text exposition format 0.0.4) — the names, all prefixed `lotse_`:
//! - `up` 1 while the relay serves;
//! - `sessions` running now; `queue_waiting` customers waiting in any queue;
//! - `peers{kind="customer"|"rep"}` connected and said hello now; `connections_open` QUIC and
//!   TCP connections and handshakes now; `tcp_connections_open` those of them over the TCP
//!   fallback (after TLS);
//! - `connections_refused_total{reason="per_address"|"full"}`, `quic_retries_total`,
//!   `handshake_failures_total`, `login_failures_total`, `key_failures_total`;
//! - `password_hashes_total`, `logins_waiting`;
//! - `relayed_bytes_total{what="video"|"file"|"clipboard"}` passed from one peer to another;
//! - `audit_entries` (the chain's newest number) and `audit_head_info{hash="…"}` 1.
//!
//! `GET /healthz`: `200 ok` while the database answers, `503` with the reason otherwise.

use crate::hub::Hub;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::TcpListener;

/// The metrics server while it runs.
#[derive(Debug)]
pub struct MetricsHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsHandle {
    pub fn stop(&self) {
        self.task.abort();
    }
}

pub(crate) async fn start(hub: Arc<Hub>, listen: SocketAddr) -> std::io::Result<MetricsHandle> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(health))
        .with_state(hub);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("metrics: {e}");
        }
    });
    Ok(MetricsHandle { addr, task })
}

async fn health(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    match hub.store.audit_head().await {
        Ok(_) => (StatusCode::OK, "ok\n".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")),
    }
}

async fn metrics(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    let (sessions, waiting, customers, reps) = {
        let s = hub.state();
        (
            s.sessions.len(),
            s.queues.values().map(Vec::len).sum::<usize>(),
            s.customers.len(),
            s.reps.len(),
        )
    };
    let stats = hub.counters.snapshot();
    let c = &hub.counters;
    let head = hub.store.audit_head().await.ok();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, values: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP lotse_{name} {help}");
        let _ = writeln!(out, "# TYPE lotse_{name} {kind}");
        for (labels, v) in values {
            let _ = writeln!(out, "lotse_{name}{labels} {v}");
        }
    };
    metric("up", "gauge", "1 while the relay serves.", &[("", 1)]);
    metric(
        "sessions",
        "gauge",
        "Sessions running now.",
        &[("", sessions as u64)],
    );
    metric(
        "queue_waiting",
        "gauge",
        "Customers waiting in a queue now.",
        &[("", waiting as u64)],
    );
    metric(
        "peers",
        "gauge",
        "Peers connected (after hello) now, by kind.",
        &[
            ("{kind=\"customer\"}", customers as u64),
            ("{kind=\"rep\"}", reps as u64),
        ],
    );
    metric(
        "connections_open",
        "gauge",
        "Connections and handshakes open now (QUIC and TCP).",
        &[("", stats.open_connections as u64)],
    );
    metric(
        "tcp_connections_open",
        "gauge",
        "Connections over the TCP fallback open now (after TLS).",
        &[("", stats.tcp_connections as u64)],
    );
    metric(
        "connections_refused_total",
        "counter",
        "Connection attempts refused, by reason.",
        &[
            ("{reason=\"per_address\"}", stats.refused_per_address),
            ("{reason=\"full\"}", stats.refused_full),
        ],
    );
    metric(
        "quic_retries_total",
        "counter",
        "QUIC Retry packets sent (address validation under load).",
        &[("", stats.retries_sent)],
    );
    metric(
        "handshake_failures_total",
        "counter",
        "QUIC/TLS handshakes that failed.",
        &[("", c.handshake_failures.load(Ordering::Relaxed))],
    );
    metric(
        "login_failures_total",
        "counter",
        "Rep logins refused for bad credentials.",
        &[("", c.login_failures.load(Ordering::Relaxed))],
    );
    metric(
        "key_failures_total",
        "counter",
        "Session keys that were unknown, used or expired.",
        &[("", c.key_failures.load(Ordering::Relaxed))],
    );
    metric(
        "password_hashes_total",
        "counter",
        "Password verifications run.",
        &[("", stats.password_hashes)],
    );
    metric(
        "logins_waiting",
        "gauge",
        "Logins waiting for a hashing slot now.",
        &[("", stats.logins_waiting as u64)],
    );
    metric(
        "relayed_bytes_total",
        "counter",
        "Bytes passed from one peer to another, by kind.",
        &[
            ("{what=\"video\"}", c.video_bytes.load(Ordering::Relaxed)),
            ("{what=\"file\"}", c.file_bytes.load(Ordering::Relaxed)),
            (
                "{what=\"clipboard\"}",
                c.clipboard_bytes.load(Ordering::Relaxed),
            ),
        ],
    );
    if let Some((seq, hash)) = head {
        metric(
            "audit_entries",
            "gauge",
            "The audit chain's newest entry number.",
            &[("", seq.max(0) as u64)],
        );
        let label = format!("{{hash=\"{}\"}}", hash.replace(['"', '\\', '\n'], ""));
        metric(
            "audit_head_info",
            "gauge",
            "The audit chain's newest hash, as a label.",
            &[(label.as_str(), 1)],
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
