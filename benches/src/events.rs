//! The events the ingest, retention and overload benchmarks write: what an
//! audited `POST` leaves behind, with a small details object.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, LazyLock};

use axum::http::StatusCode;
use tower_activity::{Action, ActivityEvent, Actor};

/// The texts every event of the audited `POST /items` shares, as a request's
/// event shares them: the wrapper's resource type, the method and the route.
static SHARED: LazyLock<[Arc<str>; 3]> = LazyLock::new(|| ["item", "POST", "/items"].map(Arc::from));

/// The `n`th sample event: a created item, by one of 1,000 users in one of
/// 10 tenants.
pub(crate) fn sample(n: u64) -> ActivityEvent {
    let [resource_type, method, route] = &*SHARED;
    ActivityEvent::builder(Action::Create)
        .resource(resource_type.clone(), n)
        .actor(Actor::user(format!("user_{}", n % 1_000)))
        .tenant(format!("tenant_{}", n % 10))
        .status(StatusCode::CREATED)
        .request_id(ActivityEvent::new_id().to_string())
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, (n >> 8) as u8, n as u8)))
        .user_agent("activity-bench/1")
        .method(method.clone())
        .route(route.clone())
        .detail("price", 12)
        .build()
        .unwrap_or_else(|invalid| unreachable!("a valid sample event: {invalid}"))
}
