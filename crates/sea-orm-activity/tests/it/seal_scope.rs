//! Verification narrowed to one tenant's entries or to the seals made since
//! a time: what is in the scope is recomputed and its tampering found, what
//! is outside is not reported, and every seal's link is still checked.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

use sea_orm_activity::entity::{self, Entity};
use sea_orm_activity::{Sealer, Tamper, VerifyOptions, VerifyReport};

use crate::events;
use crate::seal::{assert_intact, key, recent, rows, sealed_log, sql, verify, verify_with};
use crate::support::{TestDb, each_backend};

/// The options for `tenant`'s entries, signatures checked.
fn tenant(tenant: &str) -> VerifyOptions {
    VerifyOptions::new().public_key(key().public_key()).tenant(tenant)
}

/// The ids of the sealed entries of `tenant`, oldest first.
async fn ids_of(db: &TestDb, tenant: &str) -> Vec<Uuid> {
    let all = rows(db).await;
    let ids: Vec<Uuid> = all
        .iter()
        .filter(|row| row.tenant_id.as_deref() == Some(tenant))
        .map(|row| row.id)
        .collect();
    assert!(ids.len() >= 2, "[{}] too few entries of {tenant}", db.backend);
    ids
}

/// Sets the text column `column` of the entry `id` to `value`.
async fn set(db: &TestDb, id: Uuid, column: entity::Column, value: &str) {
    use sea_orm::sea_query::Expr;
    Entity::update_many()
        .col_expr(column, Expr::value(value))
        .filter(entity::Column::Id.eq(id))
        .exec(&db.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_tenant_scope_recomputes_the_tenants_entries_and_every_seals_root() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 30, 10).await;
        let own = ids_of(db, "tenant_1").await;
        let report = verify_with(db, tenant("tenant_1")).await;
        assert_intact(db, &report);
        assert_eq!(report.entries_verified, own.len() as u64, "[{}]", db.backend);
        assert_eq!(
            report.entries_out_of_scope,
            30 - own.len() as u64,
            "[{}]",
            db.backend
        );
        assert_eq!(
            (report.seals_verified, report.seals_recomputed),
            (3, 3),
            "[{}]",
            db.backend
        );
        assert_eq!(report.scope.tenant.as_deref(), Some("tenant_1"));

        // A stored leaf of another tenant's entry no longer makes its seal's root.
        let other = ids_of(db, "tenant_2").await[0];
        run_with(
            db,
            "UPDATE activity_seal_entry SET leaf = commitment WHERE entry_id = ?",
            vec![other.into()],
        )
        .await;
        let report = verify_with(db, tenant("tenant_1")).await;
        assert!(
            matches!(report.tamper, Some(Tamper::Root { .. })),
            "[{}] {report}",
            db.backend
        );
    })
    .await;
}

#[tokio::test]
async fn another_tenants_changed_or_deleted_entry_is_not_reported_as_the_tenants() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 30, 10).await;
        let others = ids_of(db, "tenant_2").await;
        set(db, others[0], entity::Column::Method, "PATCH").await;
        Entity::delete_by_id(others[1]).exec(&db.db).await.unwrap();
        let report = verify_with(db, tenant("tenant_1")).await;
        assert_intact(db, &report);
        assert_eq!(report.seals_recomputed, 3, "[{}]", db.backend);
        // The whole log and the other tenant's own report show both.
        let whole = verify(db).await;
        assert!(
            matches!(whole.tamper, Some(Tamper::Entry { entry, column: Some("method"), .. }) if entry == others[0]),
            "[{}] {whole}",
            db.backend
        );
        let theirs = verify_with(db, tenant("tenant_2")).await;
        assert!(theirs.tamper.is_some(), "[{}] {theirs}", db.backend);
    })
    .await;
}

#[tokio::test]
async fn a_tenants_changed_moved_or_deleted_entry_is_reported() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 30, 10).await;
        let own = ids_of(db, "tenant_1").await;
        let original = rows(db).await.into_iter().find(|row| row.id == own[0]).unwrap();
        let changed = |report: &VerifyReport, entry: Uuid, column: &str| {
            matches!(&report.tamper, Some(Tamper::Entry { entry: found, column: Some(changed), .. })
                if *found == entry && *changed == column)
        };

        set(db, own[0], entity::Column::Method, "PATCH").await;
        let report = verify_with(db, tenant("tenant_1")).await;
        assert!(changed(&report, own[0], "method"), "[{}] {report}", db.backend);
        set(
            db,
            own[0],
            entity::Column::Method,
            original.method.as_deref().unwrap(),
        )
        .await;
        assert_intact(db, &verify_with(db, tenant("tenant_1")).await);

        // Moved to another tenant: the digest sealed with it still names the
        // tenant, and the other tenant's report shows an entry not its own.
        set(db, own[1], entity::Column::TenantId, "tenant_2").await;
        let report = verify_with(db, tenant("tenant_1")).await;
        assert!(changed(&report, own[1], "tenant_id"), "[{}] {report}", db.backend);
        let report = verify_with(db, tenant("tenant_2")).await;
        assert!(changed(&report, own[1], "tenant_id"), "[{}] {report}", db.backend);
        set(db, own[1], entity::Column::TenantId, "tenant_1").await;

        // Seals of ten entries, in order.
        let sequence = rows(db).await.iter().position(|row| row.id == own[2]).unwrap() as u64 / 10 + 1;
        Entity::delete_by_id(own[2]).exec(&db.db).await.unwrap();
        let missing = Some(Tamper::Missing {
            sequence,
            entry: own[2],
        });
        let report = verify_with(db, tenant("tenant_1")).await;
        assert_eq!(report.tamper, missing, "[{}] {report}", db.backend);
        // Its digests erased too, as retention erases them, in a seal no
        // prune record names: still a deletion, whoever's entry it was.
        run_with(
            db,
            "UPDATE activity_seal_entry SET column_digests = ? WHERE entry_id = ?",
            vec![Vec::<u8>::new().into(), own[2].into()],
        )
        .await;
        let report = verify_with(db, tenant("tenant_1")).await;
        assert_eq!(report.tamper, missing, "[{}] {report}", db.backend);
    })
    .await;
}

/// Runs `statement`, written with `?` for its parameters, with `values`
/// bound.
async fn run_with(db: &TestDb, statement: &str, values: Vec<sea_orm::Value>) {
    let statement = match db.backend {
        crate::support::Backend::Postgres => {
            let mut numbered = String::new();
            for (at, part) in statement.split('?').enumerate() {
                if at > 0 {
                    numbered.push_str(&format!("${at}"));
                }
                numbered.push_str(part);
            }
            numbered
        }
        _ => statement.to_owned(),
    };
    db.db
        .execute_raw(Statement::from_sql_and_values(
            db.db.get_database_backend(),
            statement,
            values,
        ))
        .await
        .unwrap();
}

/// Seals `first` entries, then, made after the returned time, `then` more.
async fn sealed_in_two_rounds(db: &TestDb, first: usize, then: usize) -> DateTime<Utc> {
    let sealer = Sealer::new(db.store()).batch_size(4).signing_key(key());
    events::write(db, &(0..first).map(recent).collect::<Vec<_>>()).await;
    sealer.seal_pending().await.unwrap();
    let between = Utc::now();
    // The next seal's time is after it, at the database's precision.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    events::write(db, &(first..first + then).map(recent).collect::<Vec<_>>()).await;
    sealer.seal_pending().await.unwrap();
    between
}

#[tokio::test]
async fn a_since_scope_recomputes_the_newer_seals_and_links_the_older_ones() {
    each_backend(async |db| {
        // Seals 1 and 2 (4 and 2 entries) before, 3 and 4 (4 and 1) after.
        let between = sealed_in_two_rounds(db, 6, 5).await;
        let options = || VerifyOptions::new().public_key(key().public_key()).since(between);
        let report = verify_with(db, options()).await;
        assert_intact(db, &report);
        assert_eq!(
            (report.seals_verified, report.seals_recomputed),
            (4, 2),
            "[{}]",
            db.backend
        );
        assert_eq!(
            (report.entries_verified, report.entries_unread),
            (5, 6),
            "[{}]",
            db.backend
        );

        // An entry sealed before the time is not read...
        let all = rows(db).await;
        set(db, all[0].id, entity::Column::Method, "PATCH").await;
        assert_intact(db, &verify_with(db, options()).await);
        assert!(verify(db).await.tamper.is_some(), "[{}]", db.backend);
        // ...one sealed after it is.
        set(db, all[8].id, entity::Column::Method, "PATCH").await;
        let report = verify_with(db, options()).await;
        assert!(
            matches!(report.tamper, Some(Tamper::Entry { entry, .. }) if entry == all[8].id),
            "[{}] {report}",
            db.backend
        );
    })
    .await;
}

#[tokio::test]
async fn a_since_scope_still_checks_the_older_seals_links_and_signatures() {
    each_backend(async |db| {
        let between = sealed_in_two_rounds(db, 6, 5).await;
        sql(db, "UPDATE activity_seal SET root = previous WHERE sequence = 1").await;
        let options = VerifyOptions::new().public_key(key().public_key()).since(between);
        let report = verify_with(db, options).await;
        assert_eq!(
            report.tamper,
            Some(Tamper::Signature { sequence: 1 }),
            "[{}]",
            db.backend
        );
        let unsigned = verify_with(db, VerifyOptions::new().since(between)).await;
        assert!(
            matches!(unsigned.tamper, Some(Tamper::Chain(_))),
            "[{}] {unsigned}",
            db.backend
        );
    })
    .await;
}
