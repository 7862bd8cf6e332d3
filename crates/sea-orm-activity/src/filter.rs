//! Turning filters and cursors into SQL conditions, and the few expressions
//! that differ between backends.

use chrono::SubsecRound;
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use tower_activity::{ActivityFilter, Order};
use uuid::Uuid;

use crate::entity::{Column, Entity};

/// The condition selecting the rows that pass `filter`.
pub(crate) fn condition(filter: &ActivityFilter) -> Condition {
    let mut all = Condition::all();
    let equal = [
        (Column::TenantId, &filter.tenant_id),
        (Column::ActorId, &filter.actor_id),
        (Column::ResourceType, &filter.resource_type),
        (Column::ResourceId, &filter.resource_id),
        (Column::RequestId, &filter.request_id),
    ];
    for (column, wanted) in equal {
        if let Some(wanted) = wanted {
            all = all.add(column.eq(wanted.as_str()));
        }
    }
    if !filter.actions.is_empty() {
        all = all.add(Column::Action.is_in(filter.actions.iter().map(|action| action.as_str())));
    }
    if !filter.outcomes.is_empty() {
        all = all.add(Column::Outcome.is_in(filter.outcomes.iter().map(|outcome| outcome.as_str())));
    }
    // Times are stored with microseconds: bounds are compared at that
    // precision on every backend.
    if let Some(since) = filter.since {
        all = all.add(Column::OccurredAt.gte(since.trunc_subsecs(6)));
    }
    if let Some(until) = filter.until {
        all = all.add(Column::OccurredAt.lt(until.trunc_subsecs(6)));
    }
    all
}

/// Up to `limit` rows passing `filter`, in `order` of id, after the event
/// `after`: a keyset page, which an index on (filter column, id) serves as a
/// range read.
pub(crate) fn page(
    filter: &ActivityFilter,
    order: Order,
    after: Option<Uuid>,
    limit: usize,
) -> Select<Entity> {
    let mut select = Entity::find().filter(condition(filter));
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
    let mut pattern = String::with_capacity(prefix.len() + text.len() + suffix.len() + 4);
    pattern.push_str(prefix);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(suffix);
    LikeExpr::new(pattern).escape('\\')
}

/// Rows whose action is `name` or lies under it (`auth` covers
/// `auth.login.failed`), as [`Action::is_in`](tower_activity::Action::is_in)
/// decides.
pub(crate) fn action_in(name: &str) -> Condition {
    Condition::any()
        .add(Column::Action.eq(name))
        .add(Column::Action.like(like_literal("", name, ".%")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;
    use tower_activity::{Action, Outcome};

    #[test]
    fn like_patterns_escape_wildcards() {
        let sql = Entity::find()
            .filter(action_in("billing.plan_2"))
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(sql.contains(r"LIKE 'billing.plan\_2.%' ESCAPE '\'"), "{sql}");
    }

    #[test]
    fn keyset_pages_compare_and_order_on_the_id() {
        let after = Uuid::now_v7();
        let filter = ActivityFilter::new()
            .tenant("acme")
            .action(Action::Create)
            .outcome(Outcome::Error);
        let newest = page(&filter, Order::NewestFirst, Some(after), 51)
            .build(DbBackend::Postgres)
            .to_string();
        assert!(newest.contains(r#""id" < '"#), "{newest}");
        assert!(
            newest.ends_with(r#"ORDER BY "activity_log"."id" DESC LIMIT 51"#),
            "{newest}"
        );
        assert!(!newest.contains("OFFSET"), "{newest}");
        let oldest = page(&filter, Order::OldestFirst, Some(after), 10)
            .build(DbBackend::Postgres)
            .to_string();
        assert!(oldest.contains(r#""id" > '"#), "{oldest}");
        assert!(
            oldest.ends_with(r#"ORDER BY "activity_log"."id" ASC LIMIT 10"#),
            "{oldest}"
        );
    }
}
