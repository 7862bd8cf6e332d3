//! The filters that look into text: action namespaces, client IP (exact or
//! CIDR), a detail's value and free text. Each selects the same rows on
//! every backend as `ActivityFilter::matches` does in memory, hostile values
//! included.

use serde_json::json;
use tower_activity::{
    Action, ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Actor, Order, parse_ip_filter,
};
use uuid::Uuid;

use crate::events;
use crate::support::{TestDb, each_backend};

/// Asserts that `filter` selects `events[expected]` from the store (listed
/// oldest first, and counted), and that `matches` selects the same.
async fn assert_selects(db: &TestDb, events: &[ActivityEvent], filter: &ActivityFilter, expected: &[usize]) {
    let store = db.store();
    let query = ActivityQuery::new(filter.clone()).order(Order::OldestFirst);
    let listed: Vec<Uuid> = (store.list(&query).await)
        .unwrap_or_else(|error| panic!("[{}] {filter:?}: {error}", db.backend))
        .events
        .iter()
        .map(|event| event.id)
        .collect();
    let wanted: Vec<Uuid> = expected.iter().map(|&i| events[i].id).collect();
    assert_eq!(listed, wanted, "[{}] {filter:?}", db.backend);
    assert_eq!(
        store.count(filter).await.unwrap(),
        wanted.len() as u64,
        "[{}] {filter:?}",
        db.backend
    );
    let in_memory: Vec<Uuid> = events
        .iter()
        .filter(|event| filter.matches(event))
        .map(|event| event.id)
        .collect();
    assert_eq!(in_memory, wanted, "`matches` disagrees: {filter:?}");
}

/// An event whose stored IP is `ip`, as it is (an address, a hash, a
/// truncated network or anything else).
fn from_ip(ip: &str) -> ActivityEvent {
    let mut event = ActivityEvent::builder(Action::Read).build().unwrap();
    event.ip = Some(ip.into());
    event
}

#[tokio::test]
async fn a_namespace_selects_its_actions_exactly_on_every_backend() {
    let actions = [
        "auth.login",
        "auth.login.failed",
        "authz.checked",
        "billing.plan_2.changed",
        "billing.planx2.changed",
        "billing.plan_2",
        "read",
    ];
    let events: Vec<ActivityEvent> = actions
        .iter()
        .map(|action| ActivityEvent::builder(*action).build().unwrap())
        .collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let pattern = |text: &str| text.parse().unwrap();
        for (filter, expected) in [
            (
                ActivityFilter::new().action_pattern(pattern("auth.*")),
                vec![0, 1],
            ),
            (
                ActivityFilter::new().action_pattern(pattern("auth.login")),
                vec![0, 1],
            ),
            // `_` is no wildcard.
            (
                ActivityFilter::new().action_pattern(pattern("billing.plan_2.*")),
                vec![3, 5],
            ),
            (
                ActivityFilter::new()
                    .action_pattern(pattern("authz.*"))
                    .action(Action::Read),
                vec![2, 6],
            ),
            (ActivityFilter::new().action_pattern(pattern("export.*")), vec![]),
        ] {
            assert_selects(db, &events, &filter, &expected).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_ip_filter_selects_an_address_or_a_network_on_every_backend() {
    let stored = [
        "10.0.0.1",
        "10.1.2.3",
        "10.255.255.255",
        "11.0.0.1",
        "10.0.0.0/8",
        "203.0.113.0/24",
        "6f1ed002ab5595859014ebf0951522d9",
        "2001:db8::1",
        "2001:db8:0:1::1",
        "2001:db9::1",
        "::1",
        "fe80::1:2",
        "febf:ffff::",
        "::ffff:10.0.0.1",
        "10.0.0.1 ",
        "10.0.0.1; --",
        "1::",
        "9.99.199.255",
        "2001:DB8::1",
    ];
    let events: Vec<ActivityEvent> = stored.iter().map(|ip| from_ip(ip)).collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let ip = |text: &str| ActivityFilter::new().ip(parse_ip_filter(text).unwrap());
        for (filter, expected) in [
            (ip("10.0.0.1"), vec![0]),
            (ip("::ffff:10.0.0.1"), vec![0]),
            (ip("10.0.0.0/8"), vec![0, 1, 2, 4]),
            (ip("10.0.0.0/9"), vec![0, 1]),
            (ip("10.128.0.0/9"), vec![2]),
            (ip("10.1.2.3/31"), vec![1]),
            (ip("203.0.113.0/24"), vec![5]),
            (ip("203.0.113.9"), vec![]),
            (ip("0.0.0.0/0"), vec![0, 1, 2, 3, 17]),
            (ip("8.0.0.0/7"), vec![17]),
            (ip("2001:db8::/32"), vec![7, 8]),
            (ip("2001:db8::1"), vec![7]),
            (ip("2001:db8:0:1::/64"), vec![8]),
            (ip("fe80::/10"), vec![11, 12]),
            (ip("::/127"), vec![10]),
            (ip("::/0"), vec![7, 8, 9, 10, 11, 12, 16]),
            (ip("1::/16"), vec![16]),
        ] {
            assert_selects(db, &events, &filter, &expected).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_detail_filter_selects_a_top_level_string_on_every_backend() {
    let with = |details: serde_json::Value| {
        ActivityEvent::builder(Action::Read)
            .details(details)
            .build()
            .unwrap()
    };
    let events = [
        with(json!({"reason": "bad_password"})),
        with(json!({"reason": "Bad_Password"})),
        with(json!({"reason": ["bad_password"]})),
        with(json!({"reason": 3, "attempts": "3"})),
        with(
            json!({"a.b": "dot", "q\"k": "quote", "$x": "dollar", "a b": "space", "": "empty", "b\\s": "bs"}),
        ),
        with(json!({"nested": {"reason": "bad_password"}})),
        with(json!({"k\0": "v\0"})),
        with(json!({"reason": "bad_password", "step": "mfa"})),
        with(json!(["reason", "bad_password"])),
        ActivityEvent::builder(Action::Read).build().unwrap(),
    ];
    each_backend(async |db| {
        events::write(db, &events).await;
        let detail = |key: &str, value: &str| ActivityFilter::new().detail(key, value);
        for (filter, expected) in [
            (detail("reason", "bad_password"), vec![0, 7]),
            (detail("reason", "bad_password").detail("step", "mfa"), vec![7]),
            (detail("reason", "bad_password "), vec![]),
            (detail("reason", "3"), vec![]),
            (detail("attempts", "3"), vec![3]),
            (detail("a.b", "dot"), vec![4]),
            (detail("q\"k", "quote"), vec![4]),
            (detail("$x", "dollar"), vec![4]),
            (detail("a b", "space"), vec![4]),
            (detail("", "empty"), vec![4]),
            (detail("b\\s", "bs"), vec![4]),
            (detail("k\0", "v\0"), vec![6]),
            (detail("reason' OR '1'='1", "x"), vec![]),
            (detail("0", "reason"), vec![]),
        ] {
            assert_selects(db, &events, &filter, &expected).await;
        }
    })
    .await;
}

#[tokio::test]
async fn free_text_is_a_substring_of_the_id_label_or_a_detail_value_on_every_backend() {
    let events = [
        ActivityEvent::builder(Action::Read)
            .resource("coupon", "inv_50%_off")
            .build()
            .unwrap(),
        ActivityEvent::builder(Action::Read)
            .resource("coupon", "inv-50x-off")
            .build()
            .unwrap(),
        ActivityEvent::builder(Action::Read)
            .actor(Actor::user("u1").with_label("Alice O'Hara"))
            .build()
            .unwrap(),
        ActivityEvent::builder(Action::Read)
            .detail("note", "a 50%_off sale")
            .build()
            .unwrap(),
        ActivityEvent::builder(Action::Read)
            .details(json!({"50%_off": 50, "list": [{"path": "C:\\temp"}, true, null, 2.5]}))
            .build()
            .unwrap(),
        ActivityEvent::builder(Action::Read)
            .detail("note", "été\0")
            .build()
            .unwrap(),
        ActivityEvent::builder(Action::Read)
            .resource("user", "ALICE")
            .build()
            .unwrap(),
    ];
    each_backend(async |db| {
        events::write(db, &events).await;
        let text = |text: &str| ActivityFilter::new().text(text);
        for (filter, expected) in [
            (text("50%_off"), vec![0, 3]),
            (text("0%_"), vec![0, 3]),
            (text("%"), vec![0, 3]),
            (text("_"), vec![0, 3]),
            (text("Alice"), vec![2]),
            (text("alice"), vec![]),
            (text("O'Hara"), vec![2]),
            (text("C:\\temp"), vec![4]),
            (text("\\"), vec![4]),
            (text("50"), vec![0, 1, 3, 4]),
            (text("rue"), vec![4]),
            (text("ul"), vec![4]),
            (text("2.5"), vec![4]),
            (text("_off\":"), vec![]),
            (text("été\0"), vec![5]),
            (text("\"note\""), vec![]),
            (
                text("a 50%_off sale").ip(parse_ip_filter("10.0.0.0/8").unwrap()),
                vec![],
            ),
        ] {
            assert_selects(db, &events, &filter, &expected).await;
        }
    })
    .await;
}
