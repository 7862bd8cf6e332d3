//! GDPR: anonymizing a data subject.

use serde_json::json;
use tower_activity::{
    Action, ActivityContext, ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Actor, ActorKind,
};

use sea_orm_activity::{ANONYMIZED, ANONYMIZED_ACTION, AnonymizePolicy};

use crate::events::{self, details_text};
use crate::support::each_backend;

const SUBJECT: &str = "u_42";
const SUBJECT_IP: &str = "203.0.113.42";
const SUBJECT_AGENT: &str = "SubjectBrowser/4.2 (X11; Linux)";

/// Every text the event holds, joined.
fn all_text(event: &ActivityEvent) -> String {
    let actor = event.actor.as_ref();
    [
        event.resource_type.as_deref(),
        event.resource_id.as_deref(),
        actor.and_then(|actor| actor.id.as_deref()),
        actor.and_then(|actor| actor.label.as_deref()),
        event.tenant_id.as_deref(),
        event.request_id.as_deref(),
        event.ip.as_deref(),
        event.user_agent.as_deref(),
        event.route.as_deref(),
        Some(&details_text(event)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" | ")
}

/// Whether `word` occurs in `text` with no letter, digit or `_` next to it.
fn contains_word(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(is_word)
            && !text[at + word.len()..].chars().next().is_some_and(is_word)
    })
}

fn subject_event(i: usize) -> ActivityEvent {
    let action = ["auth.login.succeeded", "update", "read"][i % 3];
    ActivityEvent::builder(action.to_owned())
        .actor(Actor::user(SUBJECT).with_label("Ada Lovelace"))
        .tenant(format!("tenant_{}", i % 2))
        .resource("invoice", format!("inv_{i}"))
        .ip(SUBJECT_IP.parse().unwrap())
        .user_agent(SUBJECT_AGENT)
        .request_id(format!("req-s{i}"))
        .details(json!({
            "email": "ada@example.com",
            "plan": "pro",
            "profile": {"phone": "+44 20 1234", "theme": "dark"},
            "self": SUBJECT,
            "seen_from": SUBJECT_IP,
            "agent": SUBJECT_AGENT,
        }))
        .build()
        .unwrap()
}

fn admin_event(i: usize) -> ActivityEvent {
    ActivityEvent::builder(Action::Update)
        .actor(Actor::admin("root").with_label("Root"))
        .resource("user", SUBJECT)
        .ip("198.51.100.1".parse().unwrap())
        .user_agent("AdminTool/1")
        .details(json!({
            "target": SUBJECT,
            "members": ["u_1", SUBJECT],
            "note": format!("merged {SUBJECT} into u_7 ({i})"),
        }))
        .build()
        .unwrap()
}

/// Names the subject only inside its details.
fn mention_event() -> ActivityEvent {
    ActivityEvent::builder(Action::Update)
        .actor(Actor::admin("root"))
        .resource("invoice", "inv_9")
        .details(json!({"approved_for": [{"user": SUBJECT}], "by": "root"}))
        .build()
        .unwrap()
}

fn bystander_event(i: usize) -> ActivityEvent {
    ActivityEvent::builder(Action::Create)
        .actor(Actor::user("u_420").with_label("Grace"))
        .resource("user", "u_420")
        .ip("203.0.113.4".parse().unwrap())
        .user_agent("OtherBrowser/1")
        .details(json!({"ref": "u_420", "i": i, "email": "grace@example.com"}))
        .build()
        .unwrap()
}

#[tokio::test]
async fn anonymize_leaves_no_trace_of_the_subject_and_keeps_the_entries() {
    let subject: Vec<ActivityEvent> = (0..25).map(subject_event).collect();
    let admin: Vec<ActivityEvent> = (0..10).map(admin_event).collect();
    let mention = mention_event();
    let bystanders: Vec<ActivityEvent> = (0..10).map(bystander_event).collect();
    let written: Vec<ActivityEvent> = subject
        .iter()
        .chain(&admin)
        .chain([&mention])
        .chain(&bystanders)
        .cloned()
        .collect();
    each_backend(async |db| {
        events::write(db, &written).await;
        let store = db.store().chunk_size(4);
        // The subject erases their own account: the context's actor is them.
        let context = ActivityContext::system("account");
        context.set_actor(Actor::user(SUBJECT).with_label("Ada Lovelace"));
        let changed = context
            .clone()
            .scope(store.anonymize(SUBJECT, &AnonymizePolicy::new()))
            .await
            .unwrap();
        assert_eq!(changed, 36);

        let stored = events::all(db).await;
        assert_eq!(
            stored.len(),
            written.len() + 1,
            "the entries stay, one event is added"
        );
        for event in &stored {
            let text = all_text(event);
            assert!(
                !contains_word(&text, SUBJECT),
                "the subject's id remains in {text}"
            );
            assert!(!text.contains(SUBJECT_IP), "the subject's IP remains in {text}");
            assert!(
                !text.contains(SUBJECT_AGENT),
                "the subject's user agent remains in {text}"
            );
        }
        for (before, after) in subject.iter().zip(&stored) {
            assert_eq!(after.id, before.id);
            assert_eq!(after.action, before.action);
            assert_eq!(after.resource_id, before.resource_id);
            assert_eq!(after.tenant_id, before.tenant_id);
            assert_eq!(
                after.actor,
                Some(Actor {
                    kind: ActorKind::User,
                    id: None,
                    label: None
                })
            );
            assert_eq!((after.ip.as_deref(), after.user_agent.as_deref()), (None, None));
            assert_eq!(
                after.details,
                Some(json!({
                    "plan": "pro",
                    "profile": {"theme": "dark"},
                    "self": ANONYMIZED,
                    "seen_from": ANONYMIZED,
                    "agent": ANONYMIZED,
                }))
            );
        }
        for (i, after) in stored[25..35].iter().enumerate() {
            assert_eq!(after.actor, admin[i].actor, "the admin who acted stays");
            assert_eq!(after.ip, admin[i].ip);
            assert_eq!(after.resource_type.as_deref(), Some("user"));
            assert_eq!(after.resource_id, None);
            assert_eq!(
                after.details,
                Some(json!({
                    "target": ANONYMIZED,
                    "members": ["u_1", ANONYMIZED],
                    "note": format!("merged {ANONYMIZED} into u_7 ({i})"),
                }))
            );
        }
        assert_eq!(stored[35].resource_id, mention.resource_id);
        assert_eq!(
            stored[35].details,
            Some(json!({"approved_for": [{"user": ANONYMIZED}], "by": "root"}))
        );
        assert_eq!(
            &stored[36..46],
            &bystanders[..],
            "other people's entries are untouched"
        );
        let record = &stored[46];
        assert_eq!(record.action.as_str(), ANONYMIZED_ACTION);
        assert_eq!(record.details, Some(json!({"entries": 36})));
        assert_eq!(record.request_id.as_deref(), Some(context.request_id()));

        // A second run finds nothing more to change.
        assert_eq!(
            store.anonymize(SUBJECT, &AnonymizePolicy::new()).await.unwrap(),
            0
        );
        let again = events::all(db).await;
        assert_eq!(&again[..47], &stored[..]);
        assert_eq!(again[47].details, Some(json!({"entries": 0})));
    })
    .await;
}

#[tokio::test]
async fn anonymize_can_leave_other_entries_details_unsearched() {
    let mention = ActivityEvent::builder(Action::Update)
        .actor(Actor::admin("root"))
        .resource("invoice", SUBJECT)
        .details(json!({"target": SUBJECT}))
        .build()
        .unwrap();
    let own = subject_event(0);
    each_backend(async |db| {
        events::write(db, &[mention.clone(), own.clone()]).await;
        let policy = AnonymizePolicy::new()
            .search_all_details(false)
            .remove_only(["plan"]);
        assert_eq!(db.store().anonymize(SUBJECT, &policy).await.unwrap(), 1);
        let store = db.store();
        assert_eq!(store.get(mention.id).await.unwrap().as_ref(), Some(&mention));
        let anonymized = store.get(own.id).await.unwrap().unwrap();
        assert_eq!(
            anonymized.details.unwrap()["email"],
            "ada@example.com",
            "only `plan` is listed"
        );
        let page = store
            .list(&ActivityQuery::new(ActivityFilter::new().actor(SUBJECT)))
            .await
            .unwrap();
        assert!(page.events.is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_empty_subject_is_refused() {
    each_backend(async |db| {
        let error = db
            .store()
            .anonymize(" ", &AnonymizePolicy::new())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("empty actor id"), "{error}");
    })
    .await;
}
