//! The conditions that look inside text and JSON, which differ between
//! backends: a top-level detail equal to a string
//! ([`ActivityFilter::detail`](tower_activity::ActivityFilter::detail)), and
//! free text in the resource id, the actor label or a value of the details
//! ([`ActivityFilter::text`](tower_activity::ActivityFilter::text)).
//!
//! User text is always bound as a value, never written into the SQL; JSON
//! keys are matched as values too, except in MySQL's JSON path, where the
//! key is quoted. No index serves these: each row read is searched.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{Condition, DbBackend};

use crate::entity::{Column, without_nul};
use crate::filter::like_pattern;

/// The rows whose details hold the top-level `key` with the string `value`,
/// compared exactly. A NUL in either matches what the write path stored for it.
pub(crate) fn detail_equals(backend: DbBackend, key: &str, value: &str) -> SimpleExpr {
    let key = without_nul(key).into_owned();
    let value = without_nul(value).into_owned();
    let details = || Expr::col(Column::Details);
    match backend {
        DbBackend::Postgres => Expr::cust_with_exprs(
            "($1 -> CAST($2 AS text)) = to_jsonb(CAST($3 AS text))",
            [details(), Expr::val(key), Expr::val(value)],
        ),
        DbBackend::MySql => {
            let path = json_path(&key);
            Expr::cust_with_exprs(
                "(JSON_TYPE(JSON_EXTRACT(?, ?)) = 'STRING' \
                 AND BINARY JSON_UNQUOTE(JSON_EXTRACT(?, ?)) = BINARY ?)",
                [
                    details(),
                    Expr::val(path.clone()),
                    details(),
                    Expr::val(path),
                    Expr::val(value),
                ],
            )
        }
        // `json_each` lists an object's keys; text that is not JSON (which
        // no writer of this crate stores) is no match rather than an error.
        _ => Expr::cust_with_exprs(
            "(CASE WHEN json_valid(?) THEN EXISTS (SELECT 1 FROM json_each(?) AS member \
             WHERE member.key = ? AND member.type = 'text' AND member.value = ?) ELSE 0 END)",
            [details(), details(), Expr::val(key), Expr::val(value)],
        ),
    }
}

/// The MySQL JSON path of the top-level `key`: quoted, so that `.`, `*`,
/// `$`, spaces and quotes in it are part of the key.
fn json_path(key: &str) -> String {
    let mut path = String::with_capacity(key.len() + 5);
    path.push_str("$.\"");
    for c in key.chars() {
        if matches!(c, '"' | '\\') {
            path.push('\\');
        }
        path.push(c);
    }
    path.push('"');
    path
}

/// The rows whose resource id, actor label or a value anywhere in the
/// details (not a key) contains `text`, case included. A string is searched
/// as its characters; a number, `true`, `false` and `null` as their JSON text
/// (MySQL's `JSON_SEARCH` reads them so).
pub(crate) fn contains_text(backend: DbBackend, text: &str) -> Condition {
    let text = without_nul(text).into_owned();
    let in_column = |column: Column| {
        let (sql, first, second) = match backend {
            DbBackend::Postgres => ("strpos($1, $2) > 0", Expr::col(column), Expr::val(text.clone())),
            // The columns' binary collation makes `LOCATE` match case.
            DbBackend::MySql => ("LOCATE(?, ?) > 0", Expr::val(text.clone()), Expr::col(column)),
            _ => ("instr(?, ?) > 0", Expr::col(column), Expr::val(text.clone())),
        };
        Expr::cust_with_exprs(sql, [first, second])
    };
    let details = Expr::col(Column::Details);
    let in_details = match backend {
        DbBackend::Postgres => Expr::cust_with_exprs(
            "EXISTS (SELECT 1 FROM jsonb_path_query($1, CAST($2 AS jsonpath)) AS found(value) \
             WHERE jsonb_typeof(found.value) NOT IN ('object', 'array') AND strpos(CASE \
             WHEN jsonb_typeof(found.value) = 'string' THEN found.value #>> '{}' ELSE found.value::text END, $3) > 0)",
            [details, Expr::val("strict $.**"), Expr::val(text.clone())],
        ),
        // `JSON_SEARCH` compares every scalar's text with `LIKE`, under the
        // column's binary collation: case included.
        DbBackend::MySql => Expr::cust_with_exprs(
            "JSON_SEARCH(?, 'one', ?) IS NOT NULL",
            [details, Expr::val(like_pattern("%", &text, "%"))],
        ),
        _ => Expr::cust_with_exprs(
            "(CASE WHEN json_valid(?) THEN EXISTS (SELECT 1 FROM json_tree(?) AS node \
             WHERE node.type NOT IN ('object', 'array') AND instr(CASE WHEN node.type IN \
             ('text', 'integer', 'real') THEN CAST(node.value AS TEXT) ELSE node.type END, ?) > 0) ELSE 0 END)",
            [details.clone(), details, Expr::val(text.clone())],
        ),
    };
    Condition::any()
        .add(in_column(Column::ResourceId))
        .add(in_column(Column::ActorLabel))
        .add(in_details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_keys_are_quoted() {
        assert_eq!(json_path("reason"), r#"$."reason""#);
        assert_eq!(json_path(r#"a."b\$ *"#), r#"$."a.\"b\\$ *""#);
    }
}
