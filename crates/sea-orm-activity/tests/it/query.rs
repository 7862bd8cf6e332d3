//! Reading: filters, keyset pagination under concurrent inserts, counts.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta};
use tower_activity::{
    Action, ActivityEvent, ActivityFilter, ActivityQuery, ActivitySink, ActivityStore, Cursor,
    MAX_PAGE_LIMIT, MemorySink, Order, Outcome,
};
use uuid::Uuid;

use crate::events::{self, varied};
use crate::support::each_backend;

/// Every id `query`'s pages visit, in order, running `between` after each
/// page.
async fn visit(
    store: &impl ActivityStore,
    query: ActivityQuery,
    mut between: impl AsyncFnMut(usize),
) -> Vec<Uuid> {
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    for page_number in 0.. {
        let page = store.list(&query.clone().after(cursor)).await.unwrap();
        assert!(page.events.len() <= query.page_size());
        seen.extend(page.events.iter().map(|event| event.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        between(page_number).await;
    }
    seen
}

fn tenant_event(tenant: &str) -> ActivityEvent {
    ActivityEvent::builder(Action::Read)
        .tenant(tenant)
        .build()
        .unwrap()
}

#[tokio::test]
async fn paging_while_inserting_visits_each_entry_exactly_once() {
    let initial: Vec<ActivityEvent> = (0..5_000_u32)
        .map(|i| tenant_event(if i.is_multiple_of(2) { "a" } else { "b" }))
        .collect();
    each_backend(async |db| {
        events::write(db, &initial).await;
        let store = db.store();

        // Newest first: entries inserted meanwhile are newer than the first
        // page, so the pages hold exactly the entries there were.
        let query = ActivityQuery::new(ActivityFilter::new().tenant("a")).limit(97);
        let seen = visit(&store, query, async |_| {
            events::write(db, &[tenant_event("a"), tenant_event("b")]).await;
        })
        .await;
        let expected: Vec<Uuid> = initial
            .iter()
            .rev()
            .filter(|event| event.tenant_id.as_deref() == Some("a"))
            .map(|event| event.id)
            .collect();
        assert_eq!(seen.len(), 2_500);
        assert_eq!(seen, expected);

        // Oldest first: entries inserted meanwhile come after the cursor, and
        // are visited once each, at the end.
        let before: Vec<Uuid> = events::all(db).await.into_iter().map(|event| event.id).collect();
        let mut added = Vec::new();
        let query = ActivityQuery::new(ActivityFilter::new())
            .order(Order::OldestFirst)
            .limit(500);
        let seen = visit(&store, query, async |page_number| {
            if page_number < 10 {
                let event = tenant_event("c");
                events::write(db, std::slice::from_ref(&event)).await;
                added.push(event.id);
            }
        })
        .await;
        let unique: HashSet<&Uuid> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no entry is visited twice");
        let expected: Vec<Uuid> = before.into_iter().chain(added).collect();
        assert_eq!(seen, expected);
    })
    .await;
}

#[tokio::test]
async fn filters_select_exactly_the_matching_events() {
    let events: Vec<ActivityEvent> = (0..240).map(varied).collect();
    let at = |i: usize| events[i].occurred_at;
    let filters = [
        ActivityFilter::new(),
        ActivityFilter::new().tenant("tenant_1"),
        ActivityFilter::new().actor("u_13"),
        ActivityFilter::new().action(Action::Update),
        ActivityFilter::new()
            .action(Action::custom("auth.login.failed").unwrap())
            .action(Action::Delete),
        ActivityFilter::new().outcome(Outcome::Critical),
        ActivityFilter::new()
            .outcome(Outcome::Warning)
            .outcome(Outcome::Error),
        ActivityFilter::new().resource_type("invoice"),
        ActivityFilter::new().category("auth"),
        ActivityFilter::new().category("billing").category("create"),
        ActivityFilter::new().category("tenant_1"),
        ActivityFilter::new()
            .category("auth")
            .tenant("tenant_2")
            .outcome(Outcome::Warning),
        ActivityFilter::new().resource("note", "res_2_ünï"),
        ActivityFilter::new().request_id("req-12"),
        ActivityFilter::new().since(at(100)),
        ActivityFilter::new().until(at(100)),
        ActivityFilter::new().since(at(50)).until(at(51)),
        ActivityFilter::new()
            .tenant("tenant_2")
            .action(Action::Read)
            .outcome(Outcome::Warning)
            .since(at(10))
            .until(at(200)),
    ];
    each_backend(async |db| {
        events::write(db, &events).await;
        let store = db.store();
        for filter in &filters {
            for order in [Order::NewestFirst, Order::OldestFirst] {
                let query = ActivityQuery::new(filter.clone()).order(order).limit(7);
                let seen = visit(&store, query, async |_| {}).await;
                let mut expected: Vec<Uuid> = events
                    .iter()
                    .filter(|event| filter.matches(event))
                    .map(|event| event.id)
                    .collect();
                if order == Order::NewestFirst {
                    expected.reverse();
                }
                assert_eq!(seen, expected, "{filter:?} {order:?}");
            }
            assert_eq!(
                store.count(filter).await.unwrap(),
                events.iter().filter(|event| filter.matches(event)).count() as u64
            );
        }
    })
    .await;
}

#[tokio::test]
async fn ids_compare_exactly_without_case_folding_or_padding() {
    let events: Vec<ActivityEvent> = ["acme", "ACME", "acme ", "ácme"]
        .into_iter()
        .map(tenant_event)
        .collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let page = db
            .store()
            .list(&ActivityQuery::new(ActivityFilter::new().tenant("acme")))
            .await
            .unwrap();
        let tenants: Vec<_> = page
            .events
            .iter()
            .map(|event| event.tenant_id.as_deref())
            .collect();
        assert_eq!(tenants, [Some("acme")]);
    })
    .await;
}

#[tokio::test]
async fn counts_group_by_utc_day_action_and_outcome() {
    let start = DateTime::parse_from_rfc3339("2024-02-28T22:30:00.000001Z")
        .unwrap()
        .to_utc();
    let events: Vec<ActivityEvent> = (0..300)
        .map(|i| {
            let mut event = varied(i);
            event.occurred_at = start + TimeDelta::minutes(i as i64 * 17);
            event
        })
        .collect();
    let memory = MemorySink::new();
    memory.write_batch(&events).await.unwrap();
    let filters = [
        ActivityFilter::new(),
        ActivityFilter::new().tenant("tenant_0"),
        ActivityFilter::new()
            .outcome(Outcome::Success)
            .since(events[40].occurred_at),
    ];
    each_backend(async |db| {
        events::write(db, &events).await;
        let store = db.store();
        for filter in &filters {
            let counts = store.counts(filter).await.unwrap();
            assert_eq!(counts, memory.counts(filter).await.unwrap(), "{filter:?}");
        }
        let all = store.counts(&ActivityFilter::new()).await.unwrap();
        assert_eq!(all.first().unwrap().day.to_string(), "2024-02-28");
        assert!(all.iter().any(|count| count.day.to_string() == "2024-02-29"));
        assert_eq!(all.iter().map(|count| count.count).sum::<u64>(), 300);
    })
    .await;
}

#[tokio::test]
async fn pages_are_capped_at_the_maximum_limit() {
    let events: Vec<ActivityEvent> = (0..MAX_PAGE_LIMIT + 5).map(varied).collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let mut query = ActivityQuery::new(ActivityFilter::new());
        query.limit = 50_000;
        let page = db.store().list(&query).await.unwrap();
        assert_eq!(page.events.len(), MAX_PAGE_LIMIT);
        assert_eq!(page.next, Some(Cursor::after_event(events[5].id)));
    })
    .await;
}

#[tokio::test]
async fn get_finds_an_event_by_id() {
    let event = varied(5);
    each_backend(async |db| {
        events::write(db, std::slice::from_ref(&event)).await;
        let store = db.store();
        assert_eq!(store.get(event.id).await.unwrap(), Some(event.clone()));
        assert_eq!(store.get(Uuid::now_v7()).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn time_bounds_select_what_the_in_memory_store_selects() {
    let start = DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap();
    let events: Vec<ActivityEvent> = (0..6)
        .map(|i| {
            let mut event = varied(i);
            event.occurred_at = start + TimeDelta::microseconds(i as i64);
            event
        })
        .collect();
    let memory = MemorySink::new();
    memory.write_batch(&events).await.unwrap();
    let near =
        |micros: i64, nanos: i64| start + TimeDelta::microseconds(micros) + TimeDelta::nanoseconds(nanos);
    let mut filters = Vec::new();
    for nanos in [-999, -1, 0, 1, 500, 999] {
        filters.push(ActivityFilter::new().since(near(2, nanos)));
        filters.push(ActivityFilter::new().until(near(4, nanos)));
        filters.push(ActivityFilter::new().since(near(1, nanos)).until(near(3, nanos)));
    }
    // Far from the entries, and outside what some backends store or compare
    // rightly (MariaDB's driver time type ends in 2038, MySQL's dates start in
    // the year 1000, SQLite compares times as text).
    for year in [-5_000, 1, 999, 1_500, 1_960, 2_040, 9_999, 10_000, 200_000] {
        let time = chrono::NaiveDate::from_ymd_opt(year, 3, 1)
            .unwrap()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        filters.push(ActivityFilter::new().since(time));
        filters.push(ActivityFilter::new().until(time));
    }
    each_backend(async |db| {
        events::write(db, &events).await;
        let store = db.store();
        for filter in &filters {
            let query = ActivityQuery::new(filter.clone()).order(Order::OldestFirst);
            let expected = memory.list(&query).await.unwrap().events;
            let listed = store.list(&query).await.unwrap().events;
            let ids = |events: &[ActivityEvent]| events.iter().map(|event| event.id).collect::<Vec<_>>();
            assert_eq!(ids(&listed), ids(&expected), "{filter:?}");
            assert_eq!(store.count(filter).await.unwrap(), expected.len() as u64);
        }
    })
    .await;
}

#[tokio::test]
async fn a_row_another_version_wrote_reads_with_documented_fallbacks() {
    let before = varied(1);
    let mut odd = varied(5);
    odd.request_id = Some("written-by-a-newer-version".into());
    odd.actor = Some(tower_activity::Actor::user("u_9").with_label("Nine"));
    let after = varied(9);
    each_backend(async |db| {
        events::write(db, &[before.clone(), odd.clone(), after.clone()]).await;
        db.execute(
            "UPDATE activity_log SET action = 'Legacy Export', outcome = 'info', actor_kind = 'robot', \
             http_status = -1 WHERE request_id = 'written-by-a-newer-version'",
        )
        .await;
        let store = db.store();
        let page = store
            .list(&ActivityQuery::new(ActivityFilter::new()).order(Order::OldestFirst))
            .await
            .unwrap();
        assert_eq!(page.events.len(), 3);
        assert_eq!((&page.events[0], &page.events[2]), (&before, &after));
        let read = &page.events[1];
        assert_eq!(read.id, odd.id);
        assert_eq!(read.action.as_str(), tower_activity::UNKNOWN_ACTION);
        assert_eq!(read.outcome, Outcome::Warning);
        let actor = read.actor.as_ref().unwrap();
        assert_eq!(actor.kind, tower_activity::ActorKind::Anonymous);
        assert_eq!(
            (actor.id.as_deref(), actor.label.as_deref()),
            (Some("u_9"), Some("Nine"))
        );
        assert_eq!(read.http_status, None);
        assert_eq!((&read.details, &read.tenant_id), (&odd.details, &odd.tenant_id));
        assert_eq!(store.get(odd.id).await.unwrap().as_ref(), Some(read));

        let mut out = Vec::new();
        let exported = store
            .export(
                &ActivityFilter::new(),
                sea_orm_activity::ExportFormat::JsonLines,
                &mut out,
            )
            .await
            .unwrap();
        assert_eq!(exported, 3);
        let counts = store.counts(&ActivityFilter::new()).await.unwrap();
        assert_eq!(counts.iter().map(|count| count.count).sum::<u64>(), 3);
        assert!(
            counts
                .iter()
                .any(|count| count.action.as_str() == tower_activity::UNKNOWN_ACTION
                    && count.outcome == Outcome::Warning)
        );
    })
    .await;
}

#[tokio::test]
async fn a_nul_in_a_filter_value_matches_what_the_write_path_stored_for_it() {
    let with_nul = ActivityEvent::builder(Action::Read)
        .actor(tower_activity::Actor::user("a\0b"))
        .resource("doc", "id\0")
        .tenant("t\0")
        .request_id("req\0")
        .build()
        .unwrap();
    let plain = tenant_event("t");
    each_backend(async |db| {
        events::write(db, &[with_nul.clone(), plain.clone()]).await;
        let store = db.store();
        for filter in [
            ActivityFilter::new().actor("a\0b"),
            ActivityFilter::new().resource("doc", "id\0"),
            ActivityFilter::new().tenant("t\0"),
            ActivityFilter::new().request_id("req\0"),
        ] {
            let page = store.list(&ActivityQuery::new(filter.clone())).await.unwrap();
            let ids: Vec<Uuid> = page.events.iter().map(|event| event.id).collect();
            assert_eq!(ids, [with_nul.id], "{filter:?}");
            assert_eq!(store.count(&filter).await.unwrap(), 1, "{filter:?}");
        }
        let nothing = ActivityFilter::new().actor("\0");
        assert!(
            store
                .list(&ActivityQuery::new(nothing.clone()))
                .await
                .unwrap()
                .events
                .is_empty()
        );
        assert_eq!(store.count(&nothing).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn the_actor_kind_filter_selects_those_actors_on_every_backend() {
    use tower_activity::{Actor, ActorKind};
    let by = |actor: Option<Actor>| {
        let event = ActivityEvent::builder(Action::Update).tenant("k");
        match actor {
            Some(actor) => event.actor(actor),
            None => event,
        }
        .build()
        .unwrap()
    };
    let events = [
        by(Some(Actor::user("u1"))),
        by(Some(Actor::admin("root"))),
        by(Some(Actor::service("billing"))),
        by(Some(Actor::user("u2"))),
        by(None),
    ];
    each_backend(async |db| {
        events::write(db, &events).await;
        let store = db.store();
        for (filter, expected) in [
            (ActivityFilter::new().actor_kind(ActorKind::User), vec![0, 3]),
            (
                ActivityFilter::new()
                    .actor_kind(ActorKind::Admin)
                    .actor_kind(ActorKind::Service),
                vec![1, 2],
            ),
            (ActivityFilter::new().actor_kind(ActorKind::System), vec![]),
        ] {
            let query = ActivityQuery::new(filter.clone()).order(Order::OldestFirst);
            let ids: Vec<Uuid> = store
                .list(&query)
                .await
                .unwrap()
                .events
                .iter()
                .map(|event| event.id)
                .collect();
            let wanted: Vec<Uuid> = expected.iter().map(|&i| events[i].id).collect();
            assert_eq!(ids, wanted, "{filter:?}");
            assert_eq!(store.count(&filter).await.unwrap(), wanted.len() as u64);
            let memory = events.iter().filter(|event| filter.matches(event)).count();
            assert_eq!(memory, wanted.len(), "`matches` agrees with the store");
        }
    })
    .await;
}
