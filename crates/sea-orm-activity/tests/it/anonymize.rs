//! GDPR: anonymizing a data subject.

use serde_json::json;
use tower_activity::{
    Action, ActivityContext, ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Actor, ActorKind,
    changes,
};

use sea_orm_activity::{ANONYMIZED, ANONYMIZED_ACTION, AnonymizeError, AnonymizePolicy};

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
                after.details.as_ref().map(|details| details.to_value()),
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
                after.details.as_ref().map(|details| details.to_value()),
                Some(json!({
                    "target": ANONYMIZED,
                    "members": ["u_1", ANONYMIZED],
                    "note": format!("merged {ANONYMIZED} into u_7 ({i})"),
                }))
            );
        }
        assert_eq!(stored[35].resource_id, mention.resource_id);
        assert_eq!(
            stored[35].details.as_ref().map(|details| details.to_value()),
            Some(json!({"approved_for": [{"user": ANONYMIZED}], "by": "root"}))
        );
        assert_eq!(
            &stored[36..46],
            &bystanders[..],
            "other people's entries are untouched"
        );
        let record = &stored[46];
        assert_eq!(record.action.as_str(), ANONYMIZED_ACTION);
        assert_eq!(
            record.details.as_ref().map(|details| details.to_value()),
            Some(json!({"entries": 36}))
        );
        assert_eq!(record.request_id.as_deref(), Some(context.request_id()));

        // A second run finds nothing more to change.
        assert_eq!(
            store.anonymize(SUBJECT, &AnonymizePolicy::new()).await.unwrap(),
            0
        );
        let again = events::all(db).await;
        assert_eq!(&again[..47], &stored[..]);
        assert_eq!(
            again[47].details.as_ref().map(|details| details.to_value()),
            Some(json!({"entries": 0}))
        );
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
            anonymized.details.unwrap().to_value()["email"],
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
async fn anonymize_removes_personal_fields_from_recorded_changes() {
    let before =
        json!({"email": "ada@old.example", "plan": "free", "address": {"phone": "+44 1", "city": "London"}});
    let after =
        json!({"email": "ada@example.com", "plan": "pro", "address": {"phone": "+44 2", "city": "Paris"}});
    let updated = ActivityEvent::builder(Action::Update)
        .actor(Actor::user(SUBJECT))
        .resource("profile", "p_1")
        .changes(changes(&before, &after).unwrap())
        .build()
        .unwrap();
    each_backend(async |db| {
        events::write(db, std::slice::from_ref(&updated)).await;
        let policy = AnonymizePolicy::new().remove_only(["email", "phone"]);
        assert_eq!(db.store().anonymize(SUBJECT, &policy).await.unwrap(), 1);
        let stored = db.store().get(updated.id).await.unwrap().unwrap();
        let details = stored.details.unwrap().to_value();
        assert_eq!(
            details["changes"],
            json!({"plan": ["free", "pro"], "address": {"city": ["London", "Paris"]}}),
            "personal fields go, old and new values alike; the rest of the change stays"
        );
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
        assert!(matches!(error, AnonymizeError::EmptySubject), "{error:?}");
        assert!(error.to_string().contains("empty actor id"), "{error}");
    })
    .await;
}

const SUBJECT_EMAIL: &str = "ada@example.com";
const SUBJECT_NAME: &str = "Ada Lovelace";

/// Every column of every row, as text.
async fn dump(db: &crate::support::TestDb) -> Vec<String> {
    use sea_orm::{EntityTrait, QueryOrder};
    sea_orm_activity::entity::Entity::find()
        .order_by_asc(sea_orm_activity::entity::Column::Id)
        .all(&db.db)
        .await
        .unwrap()
        .iter()
        .map(|row| format!("{row:?}"))
        .collect()
}

#[tokio::test]
async fn anonymize_removes_the_subject_from_entries_about_them_and_from_free_text() {
    // The subject acted under two labels over time, from raw paths no route
    // template matched.
    let own: Vec<ActivityEvent> = (0..6)
        .map(|i| {
            let label = if i % 2 == 0 { SUBJECT_NAME } else { SUBJECT_EMAIL };
            ActivityEvent::builder("profile.viewed")
                .actor(Actor::user(SUBJECT).with_label(label))
                .ip(SUBJECT_IP.parse().unwrap())
                .user_agent(SUBJECT_AGENT)
                .route(format!("/users/{SUBJECT}/settings"))
                .details(json!({"i": i}))
                .build()
                .unwrap()
        })
        .collect();
    // An administrator edits the subject's email, name and phone.
    let edit = ActivityEvent::builder(Action::Update)
        .actor(Actor::admin("root").with_label("Root"))
        .resource("user", SUBJECT)
        .ip("198.51.100.1".parse().unwrap())
        .user_agent("AdminTool/1")
        .route(format!("/admin/users/{SUBJECT}"))
        .details(json!({
            "email": {"from": SUBJECT_EMAIL, "to": "lovelace@example.org"},
            "first_name": "Augusta",
            "phone": "+44 20 1234",
            "reason": format!("{SUBJECT_NAME} asked by mail ({SUBJECT_EMAIL}) to change her name"),
            "last_seen": {"from": SUBJECT_IP, "agent": SUBJECT_AGENT},
            "ticket": 7,
        }))
        .build()
        .unwrap();
    // The same page, reached by a percent-encoded raw path.
    let encoded = ActivityEvent::builder(Action::Read)
        .actor(Actor::admin("root"))
        .resource("user", SUBJECT)
        .route("/admin/users/by-name/Ada%20Lovelace")
        .build()
        .unwrap();
    // Entries not about the subject that name them.
    let refund = ActivityEvent::builder("billing.refund.approved")
        .actor(Actor::admin("root"))
        .resource("invoice", "inv_1")
        .route(format!("/customers/{SUBJECT_EMAIL}/refunds"))
        .details(json!({"note": format!("refund for {SUBJECT_NAME}, see {SUBJECT}'s ticket")}))
        .build()
        .unwrap();
    let avatar = ActivityEvent::builder(Action::Delete)
        .actor(Actor::service("cleaner"))
        .resource("file", format!("avatars/{SUBJECT}.png"))
        .build()
        .unwrap();
    let bystander = bystander_event(0);
    let written: Vec<ActivityEvent> = own
        .iter()
        .chain([&edit, &encoded, &refund, &avatar, &bystander])
        .cloned()
        .collect();
    let forbidden = [
        SUBJECT,
        SUBJECT_NAME,
        SUBJECT_EMAIL,
        "Ada%20Lovelace",
        SUBJECT_IP,
        SUBJECT_AGENT,
        "+44 20 1234",
        "Augusta",
        "lovelace@example.org",
    ];
    each_backend(async |db| {
        events::write(db, &written).await;
        let store = db.store().chunk_size(3);
        assert_eq!(
            store.anonymize(SUBJECT, &AnonymizePolicy::new()).await.unwrap(),
            10
        );
        for row in dump(db).await {
            for value in forbidden {
                assert!(!contains_word(&row, value), "{value:?} remains in {row}");
            }
        }
        let edited = store.get(edit.id).await.unwrap().unwrap();
        assert_eq!(edited.resource_id, None);
        assert_eq!(edited.route.as_deref(), Some("/admin/users/[ANONYMIZED]"));
        assert_eq!(
            edited.details.as_ref().map(|details| details.to_value()),
            Some(json!({
                "reason": "[ANONYMIZED] asked by mail ([ANONYMIZED]) to change her name",
                "last_seen": {"from": ANONYMIZED, "agent": ANONYMIZED},
                "ticket": 7,
            }))
        );
        assert_eq!(edited.actor, edit.actor, "the administrator stays");
        assert_eq!(
            (edited.ip, edited.user_agent),
            (edit.ip.clone(), edit.user_agent.clone())
        );
        let encoded_after = store.get(encoded.id).await.unwrap().unwrap();
        assert_eq!(
            encoded_after.route.as_deref(),
            Some("/admin/users/by-name/[ANONYMIZED]")
        );
        let refund_after = store.get(refund.id).await.unwrap().unwrap();
        assert_eq!(
            refund_after.route.as_deref(),
            Some("/customers/[ANONYMIZED]/refunds")
        );
        assert_eq!(
            refund_after.details.as_ref().map(|details| details.to_value()),
            Some(json!({"note": "refund for [ANONYMIZED], see [ANONYMIZED]'s ticket"}))
        );
        assert_eq!(refund_after.resource_id.as_deref(), Some("inv_1"));
        let avatar_after = store.get(avatar.id).await.unwrap().unwrap();
        assert_eq!(
            avatar_after.resource_id.as_deref(),
            Some("avatars/[ANONYMIZED].png")
        );
        let own_after = store.get(own[0].id).await.unwrap().unwrap();
        assert_eq!(own_after.route.as_deref(), Some("/users/[ANONYMIZED]/settings"));
        assert_eq!(store.get(bystander.id).await.unwrap(), Some(bystander.clone()));

        // Nothing is left to find: a second run changes nothing.
        assert_eq!(
            store.anonymize(SUBJECT, &AnonymizePolicy::new()).await.unwrap(),
            0
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_anonymizations_of_shared_entries_do_not_undo_each_other() {
    // Each entry names two subjects anonymized at the same time.
    let shared: Vec<ActivityEvent> = (0..120)
        .map(|i| {
            ActivityEvent::builder("team.merged")
                .actor(Actor::admin("root"))
                .resource("team", format!("team_{i}"))
                .details(json!({"from": "u_42", "into": "u_7", "i": i}))
                .build()
                .unwrap()
        })
        .collect();
    each_backend(async |db| {
        events::write(db, &shared).await;
        let store = db.store().chunk_size(7);
        let policy = AnonymizePolicy::new();
        let (first, second) = tokio::join!(store.anonymize("u_42", &policy), store.anonymize("u_7", &policy));
        first.unwrap();
        second.unwrap();
        for event in &shared {
            let after = store.get(event.id).await.unwrap().unwrap();
            assert_eq!(
                after
                    .details
                    .as_ref()
                    .map(|details| (details.get("from"), details.get("into"))),
                Some((Some(json!(ANONYMIZED)), Some(json!(ANONYMIZED)))),
                "{:?}",
                after.details
            );
        }
    })
    .await;
}
