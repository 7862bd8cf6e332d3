//! The entries the tests put in the log.

use std::net::{IpAddr, Ipv4Addr};

use axum::http::StatusCode;
use axum_activity::{Action, ActivityEvent, Actor};
use chrono::{Duration as TimeDelta, Utc};
use serde_json::json;
use tower_activity::{Outcome, changes};

/// A failed sign-in by a known user, with every column filled.
pub(crate) fn failed_login() -> ActivityEvent {
    ActivityEvent::builder(Action::custom("auth.login.failed").unwrap())
        .category("auth")
        .actor(Actor::user("u-42").with_label("Ada Lovelace"))
        .tenant("acme")
        .resource("session", "s-9")
        .outcome(Outcome::Warning)
        .status(StatusCode::UNAUTHORIZED)
        .request_id("req-login-1")
        .ip(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)))
        .method("POST")
        .route("/login")
        .build()
        .unwrap()
}

/// An update whose details hold a change diff.
pub(crate) fn renamed(tenant: &str, minutes_ago: i64) -> ActivityEvent {
    let before = json!({"name": "Old name", "plan": "free"});
    let after = json!({"name": "New name", "plan": "free"});
    ActivityEvent::builder(Action::Update)
        .actor(Actor::admin(format!("admin-of-{tenant}")))
        .tenant(tenant)
        .resource("project", format!("{tenant}-project"))
        .changes(changes(&before, &after).unwrap())
        .occurred_at(Utc::now() - TimeDelta::minutes(minutes_ago))
        .build()
        .unwrap()
}

/// `count` deletions of notes by `actor`, a minute apart, the newest ten
/// minutes ago and written last.
pub(crate) fn deletions(actor: &str, count: u8, outcome: Outcome) -> Vec<ActivityEvent> {
    let status = match outcome {
        Outcome::Success => StatusCode::NO_CONTENT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (0..count)
        .map(|index| {
            ActivityEvent::builder(Action::Delete)
                .actor(Actor::user(actor))
                .tenant("acme")
                .resource("note", index)
                .outcome(outcome)
                .status(status)
                .method("DELETE")
                .route("/notes/{id}")
                .request_id(format!("req-{actor}-{index}"))
                .ip(IpAddr::V4(Ipv4Addr::new(198, 51, 100, index)))
                .occurred_at(Utc::now() - TimeDelta::minutes(10 + i64::from(count - index)))
                .build()
                .unwrap()
        })
        .collect()
}
