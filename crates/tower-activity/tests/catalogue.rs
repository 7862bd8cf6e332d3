//! The action catalogue on the write path: strict refuses, lenient keeps,
//! marks and counts, and every kept event carries its category.

use serde::Serialize;
use serde_json::json;
use tower_activity::{
    Action, ActivityContext, ActivityEvent, CATALOGUE_KEY, Catalogue, CatalogueAction, CatalogueEntry,
    DetailSpec, DetailType, LogError, MemorySink, Recorder, ViolationKind, log_activity,
};

mod support;
use support::{counter, with_metrics};

fn catalogue() -> Catalogue {
    Catalogue::new()
        .action(
            CatalogueEntry::new("auth.login.failed", "A sign-in attempt failed")
                .detail("reason", DetailSpec::required(DetailType::String))
                .detail("password", DetailSpec::optional(DetailType::String)),
        )
        .unwrap()
        .action(
            CatalogueEntry::new("user.role.changed", "A user's role changed")
                .category("user_admin")
                .detail("from", DetailSpec::required(DetailType::String))
                .detail("to", DetailSpec::required(DetailType::String)),
        )
        .unwrap()
}

/// Logs `event` through `log_activity` inside a context on `recorder`.
async fn log(recorder: &Recorder, event: ActivityEvent) -> Result<(), LogError> {
    ActivityContext::system("test")
        .with_recorder(recorder.clone())
        .scope(async { log_activity(event) })
        .await
}

#[tokio::test]
async fn strict_refuses_an_unknown_action_and_each_schema_violation_by_name() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .catalogue(catalogue().strict())
        .spawn();
    let cases = [
        (
            ActivityEvent::builder("billing.refund").build().unwrap(),
            ViolationKind::UnknownAction,
            None,
            r#"the action catalogue refused the event: action "billing.refund" is not in the catalogue"#,
        ),
        (
            ActivityEvent::builder("user.role.changed")
                .detail("from", "viewer")
                .build()
                .unwrap(),
            ViolationKind::MissingKey,
            Some("to"),
            r#"action "user.role.changed": required detail "to" is missing"#,
        ),
        (
            ActivityEvent::builder("auth.login.failed")
                .detail("reason", true)
                .build()
                .unwrap(),
            ViolationKind::WrongType {
                expected: DetailType::String,
                found: "boolean",
            },
            Some("reason"),
            r#"action "auth.login.failed": detail "reason" must be a string, not a boolean"#,
        ),
        (
            ActivityEvent::builder("auth.login.failed")
                .detail("reason", "x")
                .detail("ssn", "1")
                .build()
                .unwrap(),
            ViolationKind::UnknownKey,
            Some("ssn"),
            r#"action "auth.login.failed": detail "ssn" is not in the action's schema"#,
        ),
    ];
    let count = cases.len() as u64;
    for (event, kind, key, message) in cases {
        let Err(LogError::Catalogue(violation)) = log(&recorder, event.clone()).await else {
            panic!("{event:?} was not refused")
        };
        assert_eq!(violation.kind(), kind);
        assert_eq!(violation.key(), key);
        assert!(
            LogError::Catalogue(violation).to_string().contains(message),
            "{message}"
        );
        assert!(matches!(recorder.record(event), Err(LogError::Catalogue(_))));
    }
    let good = ActivityEvent::builder("user.role.changed")
        .detail("from", "viewer")
        .detail("to", "admin")
        .build()
        .unwrap();
    log(&recorder, good).await.unwrap();
    recorder.shutdown().await;
    let stats = recorder.stats();
    assert_eq!((stats.catalogue_refused, stats.dropped), (2 * count, 0));
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].category.as_deref(), Some("user_admin"));
}

#[test]
fn lenient_keeps_marks_and_counts_what_breaks_the_catalogue() {
    let sink = MemorySink::new();
    let reported = with_metrics(|| async {
        let recorder = Recorder::builder(sink.clone()).catalogue(catalogue()).spawn();
        let unknown = ActivityEvent::builder("billing.refund").build().unwrap();
        log(&recorder, unknown).await.unwrap();
        let secret = ActivityEvent::builder("auth.login.failed")
            .detail("password", 1234)
            .build()
            .unwrap();
        recorder.record(secret).unwrap();
        recorder.shutdown().await;
        assert_eq!(recorder.stats().catalogue_marked, 2);
    });
    let events = sink.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].category.as_deref(), Some("billing"));
    assert_eq!(
        events[0].details.as_ref().unwrap().get(CATALOGUE_KEY),
        Some(json!(r#"action "billing.refund" is not in the catalogue"#))
    );
    // The mark survives scrubbing, which still redacts the secret.
    let details = events[1].details.as_ref().unwrap();
    assert_eq!(details.get("password"), Some(json!("[REDACTED]")));
    assert_eq!(
        details.get(CATALOGUE_KEY),
        Some(json!(
            r#"action "auth.login.failed": detail "password" must be a string, not an integer"#
        ))
    );
    let marked: Vec<_> = reported
        .iter()
        .filter(|metric| metric.name == tower_activity::metrics::CATALOGUE_VIOLATIONS)
        .collect();
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].labels, [("handling".to_owned(), "marked".to_owned())]);
    assert_eq!(
        counter(&reported, tower_activity::metrics::CATALOGUE_VIOLATIONS),
        2
    );
}

#[tokio::test]
async fn without_a_catalogue_nothing_is_checked_and_no_category_is_set() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).spawn();
    recorder
        .record(ActivityEvent::builder("billing.refund").build().unwrap())
        .unwrap();
    let own = ActivityEvent::builder(Action::Read)
        .category("reads")
        .build()
        .unwrap();
    recorder.record(own).unwrap();
    recorder.shutdown().await;
    let categories: Vec<_> = sink.events().iter().map(|event| event.category.clone()).collect();
    assert_eq!(categories, [None, Some("reads".into())]);
}

#[derive(Serialize)]
struct RoleChanged {
    from: &'static str,
    to: &'static str,
}

impl CatalogueAction for RoleChanged {
    const ACTION: &'static str = "user.role.changed";
}

#[tokio::test]
async fn a_typed_action_passes_a_strict_catalogue() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .catalogue(catalogue().strict())
        .spawn();
    let event = RoleChanged {
        from: "viewer",
        to: "admin",
    }
    .event()
    .unwrap()
    .build()
    .unwrap();
    recorder.record(event).unwrap();
    recorder.shutdown().await;
    assert_eq!(
        sink.events()[0].details.as_ref().unwrap().get("to"),
        Some(json!("admin"))
    );
}
