//! A sink that emits every event as a `tracing` event.

use chrono::SecondsFormat;
use tracing::Level;

use super::{ActivitySink, SinkError};
use crate::event::{ActivityEvent, Outcome};

/// The `tracing` target of the events [`TracingSink`] emits.
pub const TRACING_TARGET: &str = "audit";

/// Emits each event as a `tracing` event with the target [`TRACING_TARGET`]
/// (`audit`), so that an application shipping its traces to OpenTelemetry,
/// Loki or a SIEM gets the audit trail there too.
///
/// Its fields are named after the stored [`COLUMNS`](crate::COLUMNS) (`id`,
/// `occurred_at`, `action`, `actor_id`, …, `details` as one JSON string);
/// fields an event leaves empty are not recorded. Its level follows the
/// outcome: `INFO` for success, `WARN` for a warning, `ERROR` for an error or
/// a critical outcome. Writing never fails; what the subscriber does with the
/// events is up to it.
///
/// It is meant next to the database, not instead of it: see
/// [`RecorderBuilder::tee`](crate::RecorderBuilder::tee).
///
/// ```
/// use tower_activity::{NullSink, Recorder, TracingSink};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // The primary sink would be the database (`SeaOrmStore`).
/// let recorder = Recorder::builder(NullSink).tee(TracingSink).spawn();
/// # recorder.shutdown().await;
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

macro_rules! emit {
    ($level:expr, $event:expr) => {{
        let event: &ActivityEvent = $event;
        let actor = event.actor.as_ref();
        let details = event.details.as_ref().map(|details| details.as_json());
        tracing::event!(
            target: TRACING_TARGET,
            $level,
            id = %event.id,
            occurred_at = %event.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            action = event.action.as_str(),
            category = event.category.as_deref(),
            resource_type = event.resource_type.as_deref(),
            resource_id = event.resource_id.as_deref(),
            actor_kind = actor.map(|actor| actor.kind.as_str()),
            actor_id = actor.and_then(|actor| actor.id.as_deref()),
            actor_label = actor.and_then(|actor| actor.label.as_deref()),
            tenant_id = event.tenant_id.as_deref(),
            outcome = event.outcome.as_str(),
            http_status = event.http_status,
            request_id = event.request_id.as_deref(),
            ip = event.ip.as_deref(),
            user_agent = event.user_agent.as_deref(),
            method = event.method.as_deref(),
            route = event.route.as_deref(),
            details = details.as_deref(),
            "activity"
        )
    }};
}

impl ActivitySink for TracingSink {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        for event in batch {
            match event.outcome {
                Outcome::Success => emit!(Level::INFO, event),
                Outcome::Warning => emit!(Level::WARN, event),
                Outcome::Error | Outcome::Critical => emit!(Level::ERROR, event),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use super::*;
    use crate::{Action, Actor, COLUMNS, EventPolicy};

    /// One emitted event: its target, level and fields as text.
    type Emitted = (String, Level, BTreeMap<String, String>);

    /// A subscriber that keeps every event it is given.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<Emitted>>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    impl Subscriber for Collect {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            let metadata = event.metadata();
            let emitted = (metadata.target().to_owned(), *metadata.level(), fields);
            self.0.lock().unwrap().push(emitted);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    async fn emitted(batch: &[ActivityEvent]) -> Vec<Emitted> {
        let collect = Collect::default();
        let _guard = tracing::subscriber::set_default(collect.clone());
        TracingSink.write_batch(batch).await.unwrap();
        collect.0.lock().unwrap().clone()
    }

    fn full_event(outcome: Outcome) -> ActivityEvent {
        let mut event = ActivityEvent::builder(Action::Update)
            .category("billing")
            .resource("invoice", "inv_1")
            .actor(Actor::user("u_1").with_label("Ada"))
            .tenant("acme")
            .outcome(outcome)
            .status(http::StatusCode::OK)
            .request_id("req-1")
            .ip("203.0.113.9".parse().unwrap())
            .user_agent("Browser/1")
            .method("PUT")
            .route("/invoices/{id}")
            .details(json!({"amount": 12, "password": "hunter2"}))
            .build()
            .unwrap();
        EventPolicy::new().apply(&mut event);
        event
    }

    #[tokio::test]
    async fn every_column_is_a_field_named_after_it() {
        let event = full_event(Outcome::Success);
        let emitted = emitted(std::slice::from_ref(&event)).await;
        assert_eq!(emitted.len(), 1);
        let (target, level, fields) = &emitted[0];
        assert_eq!((target.as_str(), *level), (TRACING_TARGET, Level::INFO));
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.retain(|name| *name != "message");
        let mut columns: Vec<&str> = COLUMNS.iter().map(|column| column.name).collect();
        columns.sort_unstable();
        assert_eq!(names, columns);
        assert_eq!(fields["id"], event.id.to_string());
        assert_eq!(fields["actor_id"], "u_1");
        assert_eq!(fields["http_status"], "200");
        assert_eq!(fields["route"], "/invoices/{id}");
        let details: serde_json::Value = serde_json::from_str(&fields["details"]).unwrap();
        assert_eq!(details, json!({"amount": 12, "password": "[REDACTED]"}));
    }

    #[tokio::test]
    async fn empty_fields_are_left_out_and_the_level_follows_the_outcome() {
        let bare = ActivityEvent::builder(Action::Read)
            .outcome(Outcome::Critical)
            .build()
            .unwrap();
        let batch = [full_event(Outcome::Warning), full_event(Outcome::Error), bare];
        let emitted = emitted(&batch).await;
        let levels: Vec<Level> = emitted.iter().map(|(_, level, _)| *level).collect();
        assert_eq!(levels, [Level::WARN, Level::ERROR, Level::ERROR]);
        let fields = &emitted[2].2;
        assert!(
            !fields.contains_key("actor_id") && !fields.contains_key("details"),
            "{fields:?}"
        );
        assert_eq!(fields["outcome"], "critical");
    }
}
