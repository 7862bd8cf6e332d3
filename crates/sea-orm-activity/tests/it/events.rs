//! Events for the tests: varied, hostile, and at chosen times.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tower_activity::{Action, ActivityEvent, ActivitySink, Actor, ActorKind, Details, Outcome};

use crate::support::TestDb;

/// The `i`-th of a varied set: every field used or left empty (NULL) in
/// turn, four-byte unicode, nested JSON, microsecond times.
pub(crate) fn varied(i: usize) -> ActivityEvent {
    let action = match i % 6 {
        0 => Action::Create,
        1 => Action::Read,
        2 => Action::Update,
        3 => Action::Delete,
        4 => Action::custom("auth.login.failed").unwrap(),
        _ => Action::custom("billing.plan_2.changed").unwrap(),
    };
    let mut event = ActivityEvent::builder(action).build().unwrap();
    event.category = (i % 4 != 3).then(|| event.action.namespace().into());
    event.occurred_at =
        DateTime::from_timestamp_micros(1_700_000_000_123_456 + i as i64 * 1_000_003).unwrap();
    if !i.is_multiple_of(3) {
        event.resource_type = Some(["invoice", "user", "note"][i % 3].into());
        event.resource_id = Some(format!("res_{i}_ünï").into());
    }
    event.actor = match i % 4 {
        0 => None,
        1 => Some(Actor::user(format!("u_{}", i % 50)).with_label(format!("Zoë 😀 {i}"))),
        2 => Some(Actor::anonymous()),
        _ => Some(Actor {
            kind: ActorKind::Service,
            id: Some(format!("svc-{}", i % 7).into()),
            label: None,
        }),
    };
    event.tenant_id = (!i.is_multiple_of(5)).then(|| format!("tenant_{}", i % 3).into());
    event.outcome = [
        Outcome::Success,
        Outcome::Warning,
        Outcome::Error,
        Outcome::Critical,
    ][i % 4];
    event.http_status = i
        .is_multiple_of(2)
        .then_some([200, 201, 204, 403, 404, 500, 599][i % 7]);
    event.request_id = (!i.is_multiple_of(7)).then(|| format!("req-{}", i / 3).into());
    event.ip = match i % 3 {
        0 => None,
        1 => Some(format!("203.0.113.{}", i % 256).into()),
        _ => Some(format!("2001:db8::{:x}", i).into()),
    };
    event.user_agent = (i % 2 == 1).then(|| format!("Mozilla/5.0 (日本語; \"quoted\") 🦀/{i}").into());
    event.method = (i % 3 != 2).then(|| ["GET", "POST", "DELETE"][i % 3].into());
    event.route = (i % 3 != 2).then(|| "/invoices/{id}".into());
    event.details = match i % 4 {
        0 => None,
        1 => Some(Details::new(json!({
            "field": "due_date",
            "from": null,
            "nested": {"list": [1, -2, 3.25, true, false, null, "x"], "deeper": {"emoji": "👩‍👩‍👧", "empty": {}, "none": []}},
            "big": u64::MAX,
            "small": i64::MIN,
            "text": "a \"quote\", a \\ backslash,\na newline and \u{2028}",
            "i": i,
        }))),
        2 => Some(Details::new(json!(["top-level", "array", i]))),
        _ => Some(Details::new(json!({"ключ": "значение", "中文": "漢字"}))),
    };
    event
}

/// An event of `action` that occurred at `at`.
pub(crate) fn at(action: &str, at: DateTime<Utc>) -> ActivityEvent {
    let mut event = ActivityEvent::builder(action.to_owned()).build().unwrap();
    event.occurred_at = at;
    event
}

/// `now` minus `days` days.
pub(crate) fn days_before(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - TimeDelta::days(days)
}

/// Writes `events` through the store's sink.
pub(crate) async fn write(db: &TestDb, events: &[ActivityEvent]) {
    db.store()
        .write_batch(events)
        .await
        .unwrap_or_else(|error| panic!("[{}] writing {} events: {error}", db.backend, events.len()));
}

/// Every stored event, oldest first.
pub(crate) async fn all(db: &TestDb) -> Vec<ActivityEvent> {
    use sea_orm::{EntityTrait, QueryOrder};
    sea_orm_activity::entity::Entity::find()
        .order_by_asc(sea_orm_activity::entity::Column::Id)
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| ActivityEvent::try_from(row).unwrap())
        .collect()
}

/// The details of `event` as compact JSON text, or empty.
pub(crate) fn details_text(event: &ActivityEvent) -> String {
    event
        .details
        .as_ref()
        .map(|details| details.to_value().to_string())
        .unwrap_or_default()
}
