//! Sealing: a sealed log verifies, survives the round trip through every
//! backend, and every kind of tampering is reported at its place.

use chrono::{TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::json;
use tower_activity::seal::{ChainBreak, SealSigningKey};
use tower_activity::{ActivityEvent, COLUMNS, ColumnKind};
use uuid::Uuid;

use sea_orm_activity::entity::{self, Entity};
use sea_orm_activity::{Sealer, Tamper, VerifyOptions, VerifyReport};

use crate::events::{self, varied};
use crate::support::{TestDb, each_backend};

pub(crate) fn key() -> SealSigningKey {
    SealSigningKey::from_bytes(&[42; 32])
}

/// The `i`-th varied event, happening now.
pub(crate) fn recent(i: usize) -> ActivityEvent {
    let mut event = varied(i);
    event.id = Uuid::now_v7();
    event.occurred_at = Utc::now();
    event
}

/// Writes `count` varied events and seals them `per_seal` to a seal; returns
/// the sealer.
pub(crate) async fn sealed_log(db: &TestDb, count: usize, per_seal: usize) -> Sealer {
    let events: Vec<_> = (0..count).map(recent).collect();
    events::write(db, &events).await;
    let sealer = Sealer::new(db.store()).batch_size(per_seal).signing_key(key());
    let sealed = sealer.seal_pending().await.unwrap();
    assert_eq!(sealed, count as u64, "[{}]", db.backend);
    sealer
}

pub(crate) async fn verify(db: &TestDb) -> VerifyReport {
    verify_with(db, VerifyOptions::new().public_key(key().public_key())).await
}

pub(crate) async fn verify_with(db: &TestDb, options: VerifyOptions) -> VerifyReport {
    db.store()
        .verify(&options)
        .await
        .unwrap_or_else(|error| panic!("[{}] verify: {error}", db.backend))
}

pub(crate) fn assert_intact(db: &TestDb, report: &VerifyReport) {
    assert!(report.is_intact(), "[{}] {report}", db.backend);
}

/// The sealed entries, oldest first.
pub(crate) async fn rows(db: &TestDb) -> Vec<entity::Model> {
    use sea_orm::QueryOrder;
    Entity::find()
        .order_by_asc(entity::Column::Id)
        .all(&db.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sealed_log_verifies_after_the_round_trip() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 25, 10).await;
        let report = verify(db).await;
        assert_intact(db, &report);
        assert_eq!(report.entries_verified, 25);
        assert_eq!(report.seals_verified, 3);
        assert!(report.signatures_checked);
        assert_eq!(report.newest.as_ref().unwrap().seal.sequence, 3);
    })
    .await;
}

/// The stored value of `column` changed to another of its kind.
fn other_value(kind: ColumnKind) -> sea_orm::Value {
    match kind {
        ColumnKind::Uuid => Uuid::now_v7().into(),
        ColumnKind::Time => (Utc::now() - TimeDelta::days(3)).into(),
        ColumnKind::Text => "tampered".into(),
        ColumnKind::Integer => 999_i32.into(),
        ColumnKind::Json => json!({"tampered": true}).into(),
    }
}

#[tokio::test]
async fn a_change_to_any_column_of_an_entry_is_reported_with_the_column() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 12, 5).await;
        let all = rows(db).await;
        let originals: Vec<Uuid> = all.iter().map(|row| row.id).collect();
        let target = all[6].clone();
        for column in COLUMNS {
            let entity_column: entity::Column = column.name.parse().unwrap();
            let mut value = other_value(column.kind);
            if db.backend == crate::support::Backend::MySql
                && let sea_orm::Value::ChronoDateTimeUtc(Some(time)) = value
            {
                value = time.naive_utc().into();
            }
            Entity::update_many()
                .col_expr(entity_column, Expr::value(value))
                .filter(entity::Column::Id.eq(target.id))
                .exec(&db.db)
                .await
                .unwrap_or_else(|error| panic!("[{}] {}: {error}", db.backend, column.name));
            let report = verify(db).await;
            let expected = match column.name {
                // The sealed entry is gone; another stands unsealed.
                "id" => Tamper::Missing {
                    sequence: 2,
                    entry: target.id,
                },
                name => Tamper::Entry {
                    sequence: 2,
                    entry: target.id,
                    column: COLUMNS.iter().find(|c| c.name == name).map(|c| c.name),
                },
            };
            assert_eq!(report.tamper, Some(expected), "[{}] {}", db.backend, column.name);
            // Put it back: only the sealed rows, each as it was.
            Entity::delete_many()
                .filter(entity::Column::Id.is_not_in(originals.clone()))
                .exec(&db.db)
                .await
                .unwrap();
            restore(db, &target).await;
            assert_intact(db, &verify(db).await);
        }
    })
    .await;
}

/// Writes `row` back as it was, under its own id.
async fn restore(db: &TestDb, row: &entity::Model) {
    Entity::delete_by_id(row.id).exec(&db.db).await.unwrap();
    let mut active = row.clone().into_active_model();
    for column in <entity::Column as sea_orm::Iterable>::iter() {
        active.reset(column);
    }
    active.insert(&db.db).await.unwrap();
}

#[tokio::test]
async fn deleted_forged_and_copied_entries_are_reported() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 8, 4).await;
        let all = rows(db).await;

        Entity::delete_by_id(all[1].id).exec(&db.db).await.unwrap();
        let report = verify(db).await;
        assert_eq!(
            report.tamper,
            Some(Tamper::Missing {
                sequence: 1,
                entry: all[1].id
            }),
            "[{}]",
            db.backend
        );
        restore(db, &all[1]).await;
        assert_intact(db, &verify(db).await);

        // A forged entry, dated before the newest seal.
        let mut forged = recent(3);
        forged.occurred_at = Utc::now() - TimeDelta::hours(1);
        events::write(db, std::slice::from_ref(&forged)).await;
        let report = verify(db).await;
        assert_eq!(
            report.tamper,
            Some(Tamper::Unsealed { entry: forged.id }),
            "[{}]",
            db.backend
        );
        Entity::delete_by_id(forged.id).exec(&db.db).await.unwrap();

        // A copy of a sealed entry under a new id.
        let copy_id = Uuid::now_v7();
        let mut copy = entity::Model {
            id: copy_id,
            occurred_at: Utc::now() - TimeDelta::hours(1),
            ..all[2].clone()
        }
        .into_active_model();
        for column in <entity::Column as sea_orm::Iterable>::iter() {
            copy.reset(column);
        }
        copy.insert(&db.db).await.unwrap();
        let report = verify(db).await;
        assert_eq!(
            report.tamper,
            Some(Tamper::Unsealed { entry: copy_id }),
            "[{}]",
            db.backend
        );
    })
    .await;
}

/// Runs SQL that every backend reads alike.
pub(crate) async fn sql(db: &TestDb, statement: &str) {
    db.execute(statement).await;
}

#[tokio::test]
async fn entries_swapped_between_seals_are_reported() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 6, 3).await;
        let all = rows(db).await;
        let (a, b) = (all[0].id, all[4].id);
        let place = |id: Uuid, sequence: i64, position: i64| {
            sea_orm::Statement::from_sql_and_values(
                db.db.get_database_backend(),
                match db.backend {
                    crate::support::Backend::Postgres => {
                        "UPDATE activity_seal_entry SET sequence = $1, position = $2 WHERE entry_id = $3"
                    }
                    _ => "UPDATE activity_seal_entry SET sequence = ?, position = ? WHERE entry_id = ?",
                },
                [sequence.into(), position.into(), id.into()],
            )
        };
        use sea_orm::ConnectionTrait;
        db.db.execute_raw(place(a, 99, 99)).await.unwrap();
        db.db.execute_raw(place(b, 1, 0)).await.unwrap();
        db.db.execute_raw(place(a, 2, 1)).await.unwrap();
        let report = verify(db).await;
        // The first place of seal 1 now holds another entry.
        assert_eq!(
            report.tamper,
            Some(Tamper::Range { sequence: 1 }),
            "[{}]",
            db.backend
        );
    })
    .await;
}

#[tokio::test]
async fn a_changed_seal_is_reported() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 6, 2).await;
        let set = |assignment: &str| format!("UPDATE activity_seal SET {assignment} WHERE sequence = 2");
        let cases = [
            (
                "count = count + 1",
                Tamper::Count {
                    sequence: 2,
                    sealed: 3,
                    found: 2,
                },
            ),
            ("root = previous", Tamper::Root { sequence: 2 }),
            (
                "previous = root",
                Tamper::Chain(ChainBreak::Previous { sequence: 2 }),
            ),
            ("signature = NULL", Tamper::Unsigned { sequence: 2 }),
        ];
        for (assignment, expected) in cases {
            let before = seal_row(db, 2).await;
            sql(db, &set(assignment)).await;
            let report = verify(db).await;
            // A changed seal no longer matches its signature: that is found
            // first, unless the signature is gone or the link to the seal
            // before, checked before it, is broken.
            let found = report.tamper.clone();
            if assignment == "signature = NULL" || assignment == "previous = root" {
                assert_eq!(found, Some(expected), "[{}] {assignment}", db.backend);
            } else {
                assert_eq!(
                    found,
                    Some(Tamper::Signature { sequence: 2 }),
                    "[{}] {assignment}",
                    db.backend
                );
                let unsigned = verify_with(db, VerifyOptions::new()).await;
                assert_eq!(
                    unsigned.tamper,
                    Some(expected),
                    "[{}] {assignment} unsigned",
                    db.backend
                );
            }
            put_seal(db, before).await;
            assert_intact(db, &verify(db).await);
        }
    })
    .await;
}

async fn seal_row(db: &TestDb, sequence: i64) -> Vec<sea_orm::Value> {
    use sea_orm::ConnectionTrait;
    let row = db
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            db.db.get_database_backend(),
            format!("SELECT previous, root, count, signature FROM activity_seal WHERE sequence = {sequence}"),
        ))
        .await
        .unwrap()
        .unwrap();
    vec![
        row.try_get_by_index::<Vec<u8>>(0).unwrap().into(),
        row.try_get_by_index::<Vec<u8>>(1).unwrap().into(),
        row.try_get_by_index::<i64>(2).unwrap().into(),
        row.try_get_by_index::<Option<Vec<u8>>>(3).unwrap().into(),
    ]
}

async fn put_seal(db: &TestDb, values: Vec<sea_orm::Value>) {
    use sea_orm::ConnectionTrait;
    let sql = match db.backend {
        crate::support::Backend::Postgres => {
            "UPDATE activity_seal SET previous = $1, root = $2, count = $3, signature = $4 WHERE sequence = 2"
        }
        _ => "UPDATE activity_seal SET previous = ?, root = ?, count = ?, signature = ? WHERE sequence = 2",
    };
    db.db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            db.db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_removed_newest_seal_is_found_with_a_checkpoint() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 6, 2).await;
        let checkpoint = db.store().checkpoint("main").await.unwrap().unwrap();
        assert_eq!(checkpoint.seal.sequence, 3);
        // The seal alone: its entries name a seal that is gone.
        sql(db, "DELETE FROM activity_seal WHERE sequence = 3").await;
        let report = verify(db).await;
        assert!(
            matches!(report.tamper, Some(Tamper::Orphan { sequence: 3, .. })),
            "[{}] {report}",
            db.backend
        );
        // The seal and its entries' places: the log looks like two seals and
        // two recent unsealed entries, which only the checkpoint exposes.
        sql(db, "DELETE FROM activity_seal_entry WHERE sequence = 3").await;
        assert_intact(db, &verify(db).await);
        let options = VerifyOptions::new()
            .public_key(key().public_key())
            .checkpoint(checkpoint);
        let report = verify_with(db, options).await;
        assert_eq!(
            report.tamper,
            Some(Tamper::Truncated {
                checkpoint: 3,
                newest: 2
            }),
            "[{}]",
            db.backend
        );
    })
    .await;
}

#[tokio::test]
async fn a_rewritten_history_is_found_with_a_checkpoint() {
    each_backend(async |db| {
        let sealer = sealed_log(db, 4, 2).await;
        let checkpoint = db.store().checkpoint("main").await.unwrap().unwrap();
        // Everything sealed again from scratch with the stolen key, with one
        // entry changed: internally consistent.
        sql(db, "DELETE FROM activity_seal_entry").await;
        sql(db, "DELETE FROM activity_seal").await;
        sql(db, "UPDATE activity_log SET tenant_id = 'forged'").await;
        sealer.seal_pending().await.unwrap();
        assert_intact(db, &verify(db).await);
        let options = VerifyOptions::new()
            .public_key(key().public_key())
            .checkpoint(checkpoint);
        let report = verify_with(db, options).await;
        assert!(
            matches!(report.tamper, Some(Tamper::Checkpoint { sequence: 2 })),
            "[{}] {report}",
            db.backend
        );
    })
    .await;
}

#[tokio::test]
async fn seals_signed_with_another_key_are_refused() {
    each_backend(async |db| {
        events::write(db, &[recent(1), recent(2)]).await;
        let other = SealSigningKey::from_bytes(&[9; 32]);
        Sealer::new(db.store())
            .signing_key(other)
            .seal_pending()
            .await
            .unwrap();
        let report = verify(db).await;
        assert_eq!(
            report.tamper,
            Some(Tamper::Signature { sequence: 1 }),
            "[{}]",
            db.backend
        );
    })
    .await;
}
