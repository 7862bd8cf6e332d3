//! Turning filters and cursors into SQL conditions, and the few expressions
//! that differ between backends.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, Value,
};
use tower_activity::{ActivityFilter, Order};
use uuid::Uuid;

use crate::entity::{Column, Entity, without_nul};
use crate::ip_condition::ip_condition;
use crate::search_condition::{contains_text, detail_equals};

/// The condition selecting the rows that pass `filter` on `backend`.
pub(crate) fn condition(filter: &ActivityFilter, backend: DbBackend) -> Condition {
    let mut all = Condition::all();
    let equal = [
        (Column::TenantId, &filter.tenant_id),
        (Column::ActorId, &filter.actor_id),
        (Column::ResourceType, &filter.resource_type),
        (Column::ResourceId, &filter.resource_id),
        (Column::RequestId, &filter.request_id),
    ];
    // A NUL is stored as U+FFFD (see `without_nul`), so a value holding
    // one matches what the write path stored for it.
    for (column, wanted) in equal {
        if let Some(wanted) = wanted {
            all = all.add(column.eq(without_nul(wanted).into_owned()));
        }
    }
    // No index: a kind has few values, so the other filters and the id order
    // choose the rows read, and the kind is checked on each.
    if !filter.actor_kinds.is_empty() {
        all = all.add(Column::ActorKind.is_in(filter.actor_kinds.iter().map(|kind| kind.as_str())));
    }
    // No index on the action: an action or a namespace is usually common
    // enough that the id order reads fewer rows than an index would.
    if !filter.actions.is_empty() || !filter.action_patterns.is_empty() {
        let mut any = Condition::any();
        if !filter.actions.is_empty() {
            any = any.add(Column::Action.is_in(filter.actions.iter().map(|action| action.as_str())));
        }
        for pattern in &filter.action_patterns {
            any = any.add(action_in(pattern.as_str()));
        }
        all = all.add(any);
    }
    if let Some(net) = filter.ip {
        all = all.add(ip_condition(net, backend));
    }
    for (key, value) in &filter.detail_values {
        all = all.add(detail_equals(backend, key, value));
    }
    if let Some(text) = &filter.text {
        all = all.add(contains_text(backend, text));
    }
    // Served by the index on (category, id) that `AddCategory` makes.
    if !filter.categories.is_empty() {
        all = all.add(
            Column::Category.is_in(
                filter
                    .categories
                    .iter()
                    .map(|category| without_nul(category).into_owned()),
            ),
        );
    }
    if !filter.outcomes.is_empty() {
        all = all.add(Column::Outcome.is_in(filter.outcomes.iter().map(|outcome| outcome.as_str())));
    }
    // Times are stored with microseconds, and bounds are compared at that
    // precision on every backend. A time at or after `since` is at or after
    // `since` rounded up to the microsecond, and a time before `until` is
    // before `until` rounded up: both bounds select what
    // `ActivityFilter::matches` selects.
    if let Some(since) = filter.since {
        all = all.add(Column::OccurredAt.gte(time_value(backend, ceil_micros(since))));
    }
    if let Some(until) = filter.until {
        all = all.add(Column::OccurredAt.lt(time_value(backend, ceil_micros(until))));
    }
    all
}

/// `time` as a value to compare `occurred_at` with on `backend`.
///
/// A time outside the years 1000 to 9999, the range every backend stores,
/// is taken as the nearest time inside it: PostgreSQL and MySQL refuse some
/// times outside it, and SQLite, which compares times as text, would compare
/// them wrongly. On MySQL the time is sent as a `DATETIME`: its driver sends a
/// UTC time as a `TIMESTAMP`, which MariaDB turns into `NULL` outside
/// 1970–2038, so that the comparison would hold for no row.
pub(crate) fn time_value(backend: DbBackend, time: DateTime<Utc>) -> Value {
    let time = time.clamp(earliest_stored(), latest_stored());
    match backend {
        DbBackend::MySql => Value::from(time.naive_utc()),
        _ => Value::from(time),
    }
}

/// The earliest time every backend stores: MySQL's `DATETIME` starts at the
/// year 1000.
pub(crate) fn earliest_stored() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1000, 1, 1)
        .unwrap_or(NaiveDate::MIN)
        .and_time(NaiveTime::MIN)
        .and_utc()
}

/// The latest time every backend stores, at microsecond precision: the end
/// of the year 9999.
fn latest_stored() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|day| day.and_hms_micro_opt(23, 59, 59, 999_999))
        .unwrap_or(NaiveDateTime::MAX)
        .and_utc()
}

/// `time` rounded up to the microsecond.
pub(crate) fn ceil_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    let truncated = time.trunc_subsecs(6);
    if truncated == time {
        return time;
    }
    truncated
        .checked_add_signed(TimeDelta::microseconds(1))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Up to `limit` rows passing `filter`, in `order` of id, after the event
/// `after`: a keyset page, which an index on (filter column, id) serves as a
/// range read.
pub(crate) fn page(
    filter: &ActivityFilter,
    backend: DbBackend,
    order: Order,
    after: Option<Uuid>,
    limit: usize,
) -> Select<Entity> {
    let mut select = Entity::find().filter(condition(filter, backend));
    match order {
        Order::NewestFirst => {
            if let Some(after) = after {
                select = select.filter(Column::Id.lt(after));
            }
            select = select.order_by_desc(Column::Id);
        }
        Order::OldestFirst => {
            if let Some(after) = after {
                select = select.filter(Column::Id.gt(after));
            }
            select = select.order_by_asc(Column::Id);
        }
    }
    select.limit(limit as u64)
}

/// The id and time of the `limit` oldest rows matching `condition`, oldest
/// first: a range read on the time index.
pub(crate) fn oldest(condition: Condition, limit: usize) -> Select<Entity> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::OccurredAt)
        .filter(condition)
        .order_by_asc(Column::OccurredAt)
        .limit(limit as u64)
}

/// The UTC day of `occurred_at` as `YYYY-MM-DD` text.
pub(crate) fn day(backend: DbBackend) -> Expr {
    Expr::cust(match backend {
        DbBackend::Postgres => "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        DbBackend::MySql => "DATE_FORMAT(occurred_at, '%Y-%m-%d')",
        // sqlx stores a UTC time as RFC 3339 text: the day is its first ten characters.
        _ => "substr(occurred_at, 1, 10)",
    })
}

/// A `LIKE` pattern matching `text` literally, followed by `suffix` (a
/// pattern, such as `.%`). `\` escapes.
pub(crate) fn like_literal(prefix: &str, text: &str, suffix: &str) -> LikeExpr {
    LikeExpr::new(like_pattern(prefix, text, suffix)).escape('\\')
}

/// The text of a `LIKE` pattern matching `text` literally between `prefix`
/// and `suffix` (patterns): `%`, `_` and `\` in `text` are escaped with `\`,
/// the default escape character of MySQL's `LIKE` and `JSON_SEARCH`.
pub(crate) fn like_pattern(prefix: &str, text: &str, suffix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + text.len() + suffix.len() + 4);
    pattern.push_str(prefix);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(suffix);
    pattern
}

/// Rows whose action is `name` or lies under it (`auth` covers
/// `auth.login.failed`), as [`Action::is_in`](tower_activity::Action::is_in)
/// decides: compared exactly, case included, on every backend (SQLite's
/// `LIKE` ignores case, so no `LIKE` here).
pub(crate) fn action_in(name: &str) -> Condition {
    let prefix = format!("{name}.");
    let head = Func::cust("substr")
        .arg(Expr::col(Column::Action))
        .arg(1_i32)
        .arg(i32::try_from(prefix.len()).unwrap_or(i32::MAX));
    Condition::any()
        .add(Column::Action.eq(name))
        .add(Expr::expr(head).eq(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;
    use tower_activity::{Action, Outcome};

    #[test]
    fn namespaces_compare_a_prefix_exactly() {
        let sql = Entity::find()
            .filter(action_in("billing.plan_2"))
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(
            sql.contains(r#"substr("action", 1, 15) = 'billing.plan_2.'"#),
            "{sql}"
        );
        assert!(!sql.contains("LIKE"), "{sql}");
    }

    #[test]
    fn times_compare_within_the_range_every_backend_stores() {
        assert_eq!(earliest_stored().to_rfc3339(), "1000-01-01T00:00:00+00:00");
        assert_eq!(latest_stored().to_rfc3339(), "9999-12-31T23:59:59.999999+00:00");
        let year = |year: i32| {
            NaiveDate::from_ymd_opt(year, 6, 1)
                .unwrap()
                .and_time(NaiveTime::MIN)
                .and_utc()
        };
        let sql = |time: DateTime<Utc>, backend: DbBackend| {
            Entity::find()
                .filter(Column::OccurredAt.lt(time_value(backend, time)))
                .build(backend)
                .to_string()
        };
        let early = sql(year(-5000), DbBackend::Postgres);
        assert!(early.contains("< '1000-01-01 00:00:00"), "{early}");
        let late = sql(year(20_000), DbBackend::Sqlite);
        assert!(late.contains("< '9999-12-31 23:59:59.999999"), "{late}");
        // A DATETIME on MySQL: no time zone.
        let mysql = sql(year(1960), DbBackend::MySql);
        assert!(mysql.ends_with("< '1960-06-01 00:00:00.000000'"), "{mysql}");
    }

    #[test]
    fn time_bounds_round_up_to_the_microsecond() {
        let exact = DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap();
        assert_eq!(ceil_micros(exact), exact);
        for nanos in [1, 500, 999] {
            let time = exact + TimeDelta::nanoseconds(nanos);
            assert_eq!(ceil_micros(time), exact + TimeDelta::microseconds(1));
        }
        assert_eq!(ceil_micros(DateTime::<Utc>::MAX_UTC), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn keyset_pages_compare_and_order_on_the_id() {
        let after = Uuid::now_v7();
        let filter = ActivityFilter::new()
            .tenant("acme")
            .action(Action::Create)
            .outcome(Outcome::Error);
        for (order, comparison, direction, limit) in [
            (Order::NewestFirst, "<", "DESC", 51),
            (Order::OldestFirst, ">", "ASC", 10),
        ] {
            let sql = page(&filter, DbBackend::Postgres, order, Some(after), limit)
                .build(DbBackend::Postgres)
                .to_string();
            assert!(sql.contains(&format!(r#""id" {comparison} '"#)), "{sql}");
            assert!(
                sql.ends_with(&format!(
                    r#"ORDER BY "activity_log"."id" {direction} LIMIT {limit}"#
                )),
                "{sql}"
            );
            assert!(!sql.contains("OFFSET"), "{sql}");
        }
    }
}
