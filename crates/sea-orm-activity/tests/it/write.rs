//! Writing: the batching sink, idempotence, and logging inside the caller's
//! transaction.

use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, TransactionTrait};
use serde_json::json;
use tower_activity::{
    Action, ActivityContext, ActivityEvent, ActivityFilter, ActivityQuery, ActivitySink, ActivityStore,
    Actor, Catalogue, CatalogueEntry, EventPolicy, IpPrivacy, Order, Recorder, Scrubber, log_activity,
};

use sea_orm_activity::entity::Entity;
use sea_orm_activity::log_activity_in;

use crate::events::{self, varied};
use crate::support::each_backend;

#[tokio::test]
async fn ten_thousand_events_round_trip_exactly() {
    let events: Vec<ActivityEvent> = (0..10_000).map(varied).collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let store = db.store();
        let mut read = Vec::new();
        let mut cursor = None;
        loop {
            let query = ActivityQuery::new(ActivityFilter::new())
                .order(Order::OldestFirst)
                .after(cursor)
                .limit(1_000);
            let page = store.list(&query).await.unwrap();
            read.extend(page.events);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(read.len(), events.len());
        for (i, (read, written)) in read.iter().zip(&events).enumerate() {
            assert_eq!(read, written, "event {i} differs after the round trip");
        }
    })
    .await;
}

#[tokio::test]
async fn writing_a_batch_again_keeps_one_row_per_event() {
    let events: Vec<ActivityEvent> = (0..300).map(varied).collect();
    each_backend(async |db| {
        events::write(db, &events[..200]).await;
        // A retried batch overlapping what was written.
        events::write(db, &events).await;
        let rows = Entity::find().count(&db.db).await.unwrap();
        assert_eq!(rows, 300);
        assert_eq!(events::all(db).await, events);
    })
    .await;
}

#[tokio::test]
async fn events_dated_outside_1970_to_2038_are_stored_on_every_backend() {
    let dated = |year: i32| {
        let mut event = varied(year as usize);
        event.occurred_at = chrono::NaiveDate::from_ymd_opt(year, 6, 1)
            .unwrap()
            .and_hms_micro_opt(12, 30, 15, 123_456)
            .unwrap()
            .and_utc();
        event
    };
    let events: Vec<ActivityEvent> = [1960, 2045, 2150].into_iter().map(dated).collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let mut read = events::all(db).await;
        read.sort_by_key(|event| event.occurred_at);
        assert_eq!(read, events);
    })
    .await;
}

#[tokio::test]
async fn a_batch_written_straight_to_the_store_is_cut_to_the_column_limits() {
    // Made without the recorder's policy, which would have cut them.
    let mut event = varied(1);
    event.method = Some("PROPFIND-EXTENDED".into());
    event.resource_id = Some("é".repeat(300).into());
    event.user_agent = Some("a".repeat(2_000).into());
    event.route = Some(format!("/{}", "r".repeat(600)).into());
    each_backend(async |db| {
        let store = db.store();
        store.write_batch(std::slice::from_ref(&event)).await.unwrap();
        let stored = store.get(event.id).await.unwrap().unwrap();
        for (column, wanted) in [
            ("method", &event.method),
            ("resource_id", &event.resource_id),
            ("user_agent", &event.user_agent),
            ("route", &event.route),
        ] {
            let limit = tower_activity::COLUMNS
                .iter()
                .find(|declared| declared.name == column)
                .and_then(|declared| declared.max_chars)
                .unwrap();
            let kept: String = wanted.as_deref().unwrap().chars().take(limit).collect();
            let read = match column {
                "method" => &stored.method,
                "resource_id" => &stored.resource_id,
                "user_agent" => &stored.user_agent,
                _ => &stored.route,
            };
            assert_eq!(
                read.as_deref(),
                Some(kept.as_str()),
                "{column} on {:?}",
                db.backend
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_batch_larger_than_the_packet_limit_is_split() {
    // About 17.6 MB of details in one batch: more than MariaDB's default
    // 16 MiB packet, so it only fits as several statements.
    let events: Vec<ActivityEvent> = (0..1_100)
        .map(|i| {
            let mut event = varied(i);
            event.details = Some(json!({"i": i, "blob": "x".repeat(16_000)}).into());
            event
        })
        .collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let stored = events::all(db).await;
        assert_eq!(stored.len(), events.len());
        assert_eq!(stored.last(), events.last());
    })
    .await;
}

#[tokio::test]
async fn nul_characters_are_stored_as_replacement_characters_everywhere() {
    let mut event = varied(1);
    event.resource_id = Some("a\0b".into());
    event.details = Some(json!({"k\0": "v\0"}).into());
    each_backend(async |db| {
        events::write(db, std::slice::from_ref(&event)).await;
        let stored = db.store().get(event.id).await.unwrap().unwrap();
        assert_eq!(stored.resource_id.as_deref(), Some("a\u{FFFD}b"));
        assert_eq!(
            stored.details.as_ref().map(|details| details.to_value()),
            Some(json!({"k\u{FFFD}": "v\u{FFFD}"}))
        );
    })
    .await;
}

#[tokio::test]
async fn the_recorder_writes_batches_through_the_store() {
    each_backend(async |db| {
        let recorder = Recorder::builder(db.store()).batch_size(64).spawn();
        for i in 0..500 {
            recorder.record(varied(i)).unwrap();
        }
        let report = recorder.shutdown().await;
        assert_eq!((report.written, report.dropped, report.lost), (500, 0, 0));
        assert_eq!(Entity::find().count(&db.db).await.unwrap(), 500);
    })
    .await;
}

#[tokio::test]
async fn a_rollback_leaves_no_record_and_a_commit_keeps_it() {
    each_backend(async |db| {
        let store = db.store();
        let rolled_back = ActivityEvent::builder(Action::Delete)
            .resource("invoice", "inv_1")
            .build()
            .unwrap();
        let txn = db.db.begin().await.unwrap();
        let written = log_activity_in(&txn, rolled_back).await.unwrap();
        assert!(
            Entity::find_by_id(written.id).one(&txn).await.unwrap().is_some(),
            "visible inside the transaction"
        );
        txn.rollback().await.unwrap();
        assert_eq!(store.get(written.id).await.unwrap(), None);
        assert_eq!(Entity::find().count(&db.db).await.unwrap(), 0);

        let committed = ActivityEvent::builder(Action::Create)
            .resource("invoice", "inv_2")
            .build()
            .unwrap();
        let txn = db.db.begin().await.unwrap();
        let written = log_activity_in(&txn, committed).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(store.get(written.id).await.unwrap(), Some(written));
        assert_eq!(Entity::find().count(&db.db).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn transactional_events_are_filled_and_scrubbed_like_queued_ones() {
    each_backend(async |db| {
        let policy = EventPolicy::new()
            .scrubber(Scrubber::new().redact_key("tax_id"))
            .ip_privacy(IpPrivacy::truncate(24, 48));
        let recorder = Recorder::builder(db.store()).policy(policy).spawn();
        let context = ActivityContext::system("billing").with_recorder(recorder.clone());
        context.set_actor(Actor::user("u_1").with_label("Ada"));
        context.set_tenant("acme");
        context.set_route("/invoices/{id}");
        let event = || {
            ActivityEvent::builder(Action::Update)
                .resource("invoice", "inv_7")
                .ip("198.51.100.23".parse().unwrap())
                .details(json!({"password": "p", "tax_id": "DE1", "card": "4111 1111 1111 1111", "kept": 1}))
                .build()
                .unwrap()
        };
        let (queued, in_txn) = context
            .clone()
            .scope(async {
                let queued = event();
                let queued_id = queued.id;
                log_activity(queued).unwrap();
                let txn = db.db.begin().await.unwrap();
                let written = log_activity_in(&txn, event()).await.unwrap();
                txn.commit().await.unwrap();
                (queued_id, written)
            })
            .await;
        recorder.shutdown().await;
        let store = db.store();
        let mut queued = store
            .get(queued)
            .await
            .unwrap()
            .expect("the queued event was written");
        let stored = store
            .get(in_txn.id)
            .await
            .unwrap()
            .expect("the transactional event was written");
        assert_eq!(stored, in_txn);
        assert_eq!(stored.request_id.as_deref(), Some(context.request_id()));
        assert_eq!(stored.tenant_id.as_deref(), Some("acme"));
        assert_eq!(stored.ip.as_deref(), Some("198.51.100.0/24"));
        assert_eq!(
            stored.details.as_ref().map(|details| details.to_value()),
            Some(json!({"password": "[REDACTED]", "tax_id": "[REDACTED]", "card": "[REDACTED]", "kept": 1}))
        );
        queued.id = stored.id;
        queued.occurred_at = stored.occurred_at;
        assert_eq!(queued, stored, "both paths fill and scrub alike");
    })
    .await;
}

#[tokio::test]
async fn the_transactional_path_applies_the_recorder_s_catalogue() {
    let catalogue = Catalogue::new()
        .action(CatalogueEntry::new("update", "A resource was changed").category("changes"))
        .unwrap()
        .strict();
    each_backend(async |db| {
        let recorder = Recorder::builder(db.store()).catalogue(catalogue.clone()).spawn();
        let context = ActivityContext::system("billing").with_recorder(recorder.clone());
        let (refused, written) = context
            .scope(async {
                let txn = db.db.begin().await.unwrap();
                let unknown = ActivityEvent::builder("billing.refund").build().unwrap();
                let refused = log_activity_in(&txn, unknown).await.unwrap_err();
                let update = ActivityEvent::builder(Action::Update).build().unwrap();
                let written = log_activity_in(&txn, update).await.unwrap();
                txn.commit().await.unwrap();
                (refused, written)
            })
            .await;
        recorder.shutdown().await;
        assert!(
            refused
                .to_string()
                .contains(r#"action "billing.refund" is not in the catalogue"#),
            "{refused}"
        );
        assert_eq!(Entity::find().count(&db.db).await.unwrap(), 1);
        let stored = db.store().get(written.id).await.unwrap().unwrap();
        assert_eq!(stored.category.as_deref(), Some("changes"));
        assert_eq!(recorder.stats().catalogue_refused, 1);
    })
    .await;
}

#[tokio::test]
async fn values_that_look_like_sql_or_array_syntax_are_stored_as_they_are() {
    let hostile = [
        "\"quoted\"",
        "back\\slash\\",
        "{braces}",
        "a,b",
        "NULL",
        "",
        "line\nbreak\ttab",
        "'; DROP TABLE activity_log; --",
        "$1",
        "nul\u{0}inside",
        "}\",{\"",
    ];
    let events: Vec<ActivityEvent> = hostile
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut event = varied(i);
            event.resource_id = Some((*text).into());
            event.tenant_id = Some((*text).into());
            event.user_agent = Some((*text).into());
            event.route = Some((*text).into());
            event.details = Some(json!({ *text: *text }).into());
            event
        })
        .collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let read = events::all(db).await;
        assert_eq!(read.len(), hostile.len());
        for (read, text) in read.iter().zip(hostile) {
            let stored = text.replace('\0', "\u{FFFD}");
            assert_eq!(read.resource_id.as_deref(), Some(stored.as_str()));
            assert_eq!(read.tenant_id.as_deref(), Some(stored.as_str()));
            assert_eq!(read.user_agent.as_deref(), Some(stored.as_str()));
            assert_eq!(read.route.as_deref(), Some(stored.as_str()));
            assert_eq!(
                read.details.as_ref().map(|details| details.to_value()),
                Some(json!({ stored.clone(): stored }))
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_batch_is_one_transaction_even_over_several_statements() {
    // Several statements (over 4 MiB of details), the last event one that a
    // constraint of the table refuses.
    let mut events: Vec<ActivityEvent> = (0..400)
        .map(|i| {
            let mut event = varied(i);
            event.details = Some(json!({"i": i, "blob": "x".repeat(16_000)}).into());
            event
        })
        .collect();
    if let Some(last) = events.last_mut() {
        last.resource_id = Some("refused".into());
    }
    each_backend(async |db| {
        if db.backend == crate::support::Backend::Sqlite {
            // SQLite cannot add a constraint to an existing table.
            return;
        }
        db.db
            .execute_unprepared(
                "ALTER TABLE activity_log ADD CONSTRAINT no_refused CHECK (resource_id <> 'refused')",
            )
            .await
            .unwrap();
        let result = db.store().write_batch(&events).await;
        assert!(
            result.is_err(),
            "[{}] the refused event fails the batch",
            db.backend
        );
        let stored = Entity::find().count(&db.db).await.unwrap();
        assert_eq!(stored, 0, "[{}] nothing of the failed batch is kept", db.backend);
    })
    .await;
}
