//! What an operator watches: `/healthz` and `/metrics` (Prometheus text).

use std::sync::Arc;

use crate::cluster::Health;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

/// The counters, shared by every connection.
pub struct Metrics {
    registry: Registry,
    /// Signaling sockets open now.
    pub sockets: Gauge,
    /// Successful logins, resumes included.
    pub logins: Counter,
    /// Signals relayed from one user to another.
    pub relays: Counter,
    /// Refusals, by their code.
    refusals: Family<Refusal, Counter>,
    /// TURN credentials minted.
    pub turn_credentials: Counter,
    /// On a node of a cluster: Redis as the node sees it, shown as `peercall_redis_up`.
    redis: Option<(Arc<Health>, Gauge)>,
}

/// Messages between this node and others, shown as `peercall_cross_node_messages`.
#[derive(Clone)]
pub struct Crossings {
    /// Sent to other nodes (a client's frame, or a batch of frames for one client).
    pub sent: Counter,
    /// Received from other nodes.
    pub received: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Direction {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refusal {
    code: &'static str,
}

impl Metrics {
    /// Every counter at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("peercall");
        let sockets = Gauge::default();
        let logins = Counter::default();
        let relays = Counter::default();
        let refusals = Family::<Refusal, Counter>::default();
        let turn_credentials = Counter::default();
        registry.register("sockets", "Signaling sockets open now", sockets.clone());
        registry.register(
            "logins",
            "Logins accepted, resumes included",
            logins.clone(),
        );
        registry.register("relays", "Signals relayed between users", relays.clone());
        registry.register("refusals", "Requests refused, by code", refusals.clone());
        registry.register(
            "turn_credentials",
            "TURN credentials minted",
            turn_credentials.clone(),
        );
        Self {
            registry,
            sockets,
            logins,
            relays,
            refusals,
            turn_credentials,
            redis: None,
        }
    }

    /// The counters of messages between this node and others, for a node of a cluster.
    pub fn crossings(&mut self) -> Crossings {
        let family = Family::<Direction, Counter>::default();
        let counter = |direction| family.get_or_create(&Direction { direction }).clone();
        let crossings = Crossings {
            sent: counter("sent"),
            received: counter("received"),
        };
        self.registry.register(
            "cross_node_messages",
            "Messages sent to and received from other nodes through Redis",
            family,
        );
        crossings
    }

    /// Shows whether Redis answers (1) or not (0), for a node of a cluster.
    pub fn watch_redis(&mut self, health: Arc<Health>) {
        let up = Gauge::default();
        self.registry.register(
            "redis_up",
            "Whether this node reaches Redis (1) or serves its own users alone (0)",
            up.clone(),
        );
        self.redis = Some((health, up));
    }

    /// Counts one refusal of `code` (a protocol error code, or `server-full`).
    pub fn refused(&self, code: &'static str) {
        self.refusals.get_or_create(&Refusal { code }).inc();
    }
}

/// `/healthz` and `/metrics`. A node of a cluster says `degraded` while Redis is away,
/// still with 200: it serves its own users all the same, and a balancer must not drain
/// every node at once.
pub fn routes(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(exposition))
        .with_state(metrics)
}

async fn health(State(metrics): State<Arc<Metrics>>) -> &'static str {
    match &metrics.redis {
        Some((health, _)) if !health.redis_up() => "degraded: Redis is away\n",
        _ => "ok\n",
    }
}

async fn exposition(State(metrics): State<Arc<Metrics>>) -> Response {
    if let Some((health, up)) = &metrics.redis {
        up.set(i64::from(health.redis_up()));
    }
    let mut text = String::new();
    if let Err(error) = encode(&mut text, &metrics.registry) {
        tracing::warn!(%error, "cannot write the metrics");
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
