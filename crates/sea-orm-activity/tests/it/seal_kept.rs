//! Sealing keeps verifying through what a log lives through: anonymization,
//! retention, concurrent writers and sealers, transactions, a database that
//! goes away; and an entry's inclusion proof holds.

use chrono::{TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement, TransactionTrait};
use tower_activity::seal::SealSigningKey;
use uuid::Uuid;

use sea_orm_activity::entity::Entity;
use sea_orm_activity::{AnonymizePolicy, Sealer, Tamper, log_activity_in};

use crate::events;
use crate::seal::{assert_intact, key, recent, rows, sealed_log, sql, verify};
use crate::support::{Backend, TestDb, each_backend, on_backend};

/// Seals what is pending, then verifies: the log must be intact.
async fn seal_and_verify(db: &TestDb) -> sea_orm_activity::VerifyReport {
    Sealer::new(db.store())
        .signing_key(key())
        .seal_pending()
        .await
        .unwrap();
    let report = verify(db).await;
    assert_intact(db, &report);
    report
}

#[tokio::test]
async fn an_anonymized_log_still_verifies() {
    each_backend(async |db| {
        let _sealer = sealed_log(db, 20, 8).await;
        let changed = db
            .store()
            .anonymize("u_1", &AnonymizePolicy::default())
            .await
            .unwrap();
        assert!(changed > 0, "[{}]", db.backend);
        let report = seal_and_verify(db).await;
        assert_eq!(report.entries_erased, changed, "[{}]", db.backend);
        // Without the salt, the commitment is all that is left.
        let salts = db
            .db
            .query_one_raw(Statement::from_string(
                db.db.get_database_backend(),
                "SELECT COUNT(*) FROM activity_seal_entry WHERE salt IS NULL",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(salts as u64, changed, "[{}]", db.backend);
    })
    .await;
}

#[tokio::test]
async fn transactions_concurrent_writers_and_sealers_leave_every_entry_sealed_once() {
    each_backend(async |db| {
        let store = db.store();
        // Committed and rolled back.
        let txn = db.db.begin().await.unwrap();
        log_activity_in(&txn, recent(1)).await.unwrap();
        txn.commit().await.unwrap();
        let txn = db.db.begin().await.unwrap();
        log_activity_in(&txn, recent(2)).await.unwrap();
        txn.rollback().await.unwrap();
        // Writers and three sealers at once.
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let db = db.db.clone();
                let store = store.clone();
                tokio::spawn(async move {
                    for batch in 0..5 {
                        let events: Vec<_> = (0..10).map(|i| recent(writer * 100 + batch * 10 + i)).collect();
                        if batch % 2 == 0 {
                            tower_activity::ActivitySink::write_batch(&store, &events)
                                .await
                                .unwrap();
                        } else {
                            for event in events {
                                log_activity_in(&db, event).await.unwrap();
                            }
                        }
                    }
                })
            })
            .collect();
        let sealers: Vec<_> = (0..3)
            .map(|_| {
                let sealer = Sealer::new(store.clone())
                    .batch_size(7)
                    .signing_key(key())
                    .interval(std::time::Duration::from_millis(5));
                sealer.spawn()
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        for sealer in sealers {
            sealer.shutdown().await;
        }
        let report = seal_and_verify(db).await;
        assert_eq!(report.entries_verified, 201, "[{}]", db.backend);
        assert_eq!(report.entries_unsealed, 0, "[{}]", db.backend);
    })
    .await;
}

#[tokio::test]
async fn an_entry_committed_after_newer_ones_were_sealed_is_sealed_by_the_next_pass() {
    each_backend(async |db| {
        // Its id is made first, its row committed last: a long transaction,
        // or a batch written after a later one.
        let late = recent(0);
        let newer: Vec<_> = (1..6).map(recent).collect();
        events::write(db, &newer).await;
        let sealer = Sealer::new(db.store()).signing_key(key()).batch_size(2);
        assert_eq!(sealer.seal_pending().await.unwrap(), 5, "[{}]", db.backend);
        events::write(db, &[late]).await;
        assert_eq!(sealer.seal_pending().await.unwrap(), 1, "[{}]", db.backend);
        // And through a running sealer's ordinary passes, before its last
        // one (which reads the whole lookback).
        let sealer = Sealer::new(db.store())
            .signing_key(key())
            .interval(std::time::Duration::from_millis(5))
            .spawn();
        let late = recent(6);
        events::write(db, &[recent(7)]).await;
        wait_until_sealed(db, 7).await;
        events::write(db, &[late]).await;
        wait_until_sealed(db, 8).await;
        sealer.shutdown().await;
        let report = verify(db).await;
        assert_intact(db, &report);
        assert_eq!(report.entries_verified, 8, "[{}]", db.backend);
        assert_eq!(report.entries_unsealed, 0, "[{}]", db.backend);
    })
    .await;
}

#[tokio::test]
async fn a_pruned_log_verifies_and_a_deletion_beside_the_prune_does_not() {
    each_backend(async |db| {
        // Old entries, sealed first, then recent ones.
        let old: Vec<_> = (0..9)
            .map(|i| {
                let mut event = recent(i);
                event.occurred_at = Utc::now() - TimeDelta::days(100);
                event
            })
            .collect();
        events::write(db, &old).await;
        let sealer = Sealer::new(db.store()).batch_size(4).signing_key(key());
        sealer.seal_pending().await.unwrap();
        events::write(db, &(10..15).map(recent).collect::<Vec<_>>()).await;
        sealer.seal_pending().await.unwrap();

        let store = db.store().chunk_size(5);
        let policy = sea_orm_activity::RetentionPolicy::new(std::time::Duration::from_secs(30 * 86_400));
        let pruned = store.prune(&policy, Utc::now()).await.unwrap();
        assert_eq!(pruned.pruned, 9, "[{}]", db.backend);
        sealer.seal_pending().await.unwrap();
        let report = verify(db).await;
        assert_intact(db, &report);
        assert_eq!(report.entries_pruned, 9, "[{}]", db.backend);

        // One more entry deleted by hand.
        let kept = rows(db).await;
        let victim = kept.iter().find(|row| row.resource_id.is_some()).unwrap();
        Entity::delete_by_id(victim.id).exec(&db.db).await.unwrap();
        let report = verify(db).await;
        assert!(
            matches!(report.tamper, Some(Tamper::Missing { entry, .. }) if entry == victim.id),
            "[{}] {report}",
            db.backend
        );
    })
    .await;
}

#[tokio::test]
async fn an_inclusion_proof_holds_until_the_entry_is_changed() {
    use tower_activity::seal::SealStore;
    each_backend(async |db| {
        let _sealer = sealed_log(db, 7, 7).await;
        let store = db.store();
        let target = rows(db).await[5].id;
        let proof = store.inclusion_proof(target).await.unwrap().unwrap();
        assert_eq!((proof.index, proof.seal.seal.count), (5, 7), "[{}]", db.backend);
        assert!(proof.verify(Some(&key().public_key())), "[{}]", db.backend);
        let other = SealSigningKey::from_bytes(&[1; 32]).public_key();
        assert!(!proof.verify(Some(&other)), "[{}]", db.backend);
        assert_eq!(store.inclusion_proof(Uuid::now_v7()).await.unwrap(), None);

        sql(db, "UPDATE activity_log SET method = 'PATCH'").await;
        let proof = store.inclusion_proof(target).await.unwrap().unwrap();
        assert!(!proof.verify(Some(&key().public_key())), "[{}]", db.backend);
    })
    .await;
}

#[tokio::test]
async fn sealing_rounds_that_fail_while_the_database_is_out_are_retried() {
    each_backend(async |db| {
        let sealer = Sealer::new(db.store())
            .signing_key(key())
            .batch_size(3)
            .interval(std::time::Duration::from_millis(5))
            .spawn();
        events::write(db, &(0..5).map(recent).collect::<Vec<_>>()).await;
        // The seals' table is gone for a while: every round fails and is
        // retried; entries keep arriving.
        sql(db, "ALTER TABLE activity_seal RENAME TO activity_seal_away").await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        events::write(db, &(5..12).map(recent).collect::<Vec<_>>()).await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        sql(db, "ALTER TABLE activity_seal_away RENAME TO activity_seal").await;
        events::write(db, &(12..14).map(recent).collect::<Vec<_>>()).await;
        // Sealed by the retried passes, not only by the stopping one.
        wait_until_sealed(db, 14).await;
        sealer.shutdown().await;
        let report = verify(db).await;
        assert_intact(db, &report);
        assert_eq!(report.entries_verified, 14, "[{}]", db.backend);
        assert_eq!(report.entries_unsealed, 0, "[{}]", db.backend);
    })
    .await;
}

#[tokio::test]
async fn a_prune_beside_a_sealing_round_records_what_the_round_sealed() {
    // On MySQL a round reads its entries `FOR UPDATE`; a prune of the same
    // entry must wait for it and record the seal, not delete the entry
    // behind it unrecorded.
    on_backend(Backend::MySql, true, &async |db: &TestDb| {
        let mut old = recent(0);
        old.occurred_at = Utc::now() - TimeDelta::days(100);
        events::write(db, std::slice::from_ref(&old)).await;
        // Another transaction holds the first place of the chain's first
        // seal, so the round stops at writing the entry's place: after
        // reading (and locking) the entry, before its commit.
        let holder = db.db.begin().await.unwrap();
        holder
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::MySql,
                "INSERT INTO activity_seal_entry \
                 (entry_id, chain, sequence, position, salt, commitment, leaf, column_digests) \
                 VALUES (?, 'main', 1, 0, NULL, x'00', x'00', x'00')",
                [Uuid::now_v7().into()],
            ))
            .await
            .unwrap();
        let store = db.store();
        let sealing = tokio::spawn(async move { Sealer::new(store).signing_key(key()).seal_pending().await });
        wait_for_lock_waits(db, 1).await;
        let store = db.store();
        let pruning = tokio::spawn(async move {
            let policy = sea_orm_activity::RetentionPolicy::new(std::time::Duration::from_secs(30 * 86_400));
            store.prune(&policy, Utc::now()).await
        });
        wait_for_lock_waits(db, 2).await;
        holder.rollback().await.unwrap();

        assert_eq!(sealing.await.unwrap().unwrap(), 1);
        assert_eq!(pruning.await.unwrap().unwrap().pruned, 1);
        let report = seal_and_verify(db).await;
        assert_eq!(report.entries_pruned, 1, "{report}");
    })
    .await;
}

/// Waits until `count` entries are sealed, for at most 10 s.
async fn wait_until_sealed(db: &TestDb, count: i64) {
    let mut sealed = 0;
    for _ in 0..1_000 {
        sealed = db
            .db
            .query_one_raw(Statement::from_string(
                db.db.get_database_backend(),
                "SELECT COUNT(*) FROM activity_seal_entry",
            ))
            .await
            .unwrap()
            .and_then(|row| row.try_get_by_index::<i64>(0).ok())
            .unwrap_or(0);
        if sealed >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("[{}] {sealed} of {count} entries sealed after 10 s", db.backend);
}

/// Waits until `count` transactions on `db`'s database wait for a row lock.
/// The server refreshes what it shows of its transactions only when they
/// were last looked at 100 ms ago or more: look less often than that.
async fn wait_for_lock_waits(db: &TestDb, count: i64) {
    for _ in 0..50 {
        let row = db
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::MySql,
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX AS trx \
                 JOIN information_schema.PROCESSLIST AS process ON process.ID = trx.trx_mysql_thread_id \
                 WHERE trx.trx_state = 'LOCK WAIT' AND process.DB = DATABASE()",
            ))
            .await
            .unwrap();
        if row.and_then(|row| row.try_get_by_index::<i64>(0).ok()) >= Some(count) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("no {count} transactions waiting for a lock after 10 s");
}
