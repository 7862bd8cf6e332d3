//! On PostgreSQL, the lock that keeps a sealing round apart from the
//! transactions that rewrite or delete stored entries (a chunk of an
//! anonymization or of a prune).
//!
//! A round hashes the entries it reads and writes their places; a rewrite
//! changes an entry and clears its place's salt, a prune deletes entries and
//! records the sealed ones. Were the two to overlap, a round could seal the
//! values a rewrite is replacing (the entry would then fail verification and
//! keep a salt that should be gone), or a prune could delete an entry the
//! round is sealing without recording it. Rewrites hold the lock shared, so
//! they run side by side; a round holds it exclusively, from before it reads
//! until it commits. PostgreSQL queues a request behind a waiting one that
//! conflicts with it, so a steady stream of rewrites does not starve the
//! sealer. The lock lasts until the end of the transaction.
//!
//! Holding one lock for the round costs nothing per entry, where reading the
//! entries `FOR UPDATE` writes a lock into each row. On MySQL, rounds,
//! anonymization chunks and prune chunks all read their entries
//! `FOR UPDATE` instead; SQLite has a single writer. Elsewhere these do
//! nothing.

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, IsolationLevel, SqliteTransactionMode, Statement, TransactionOptions,
};

/// The lock's key among the database's advisory locks (the sealer's chain
/// locks use keys hashed from the chain's name).
const KEY: i64 = i64::from_be_bytes(*b"activity");

/// Takes the lock shared for the transaction `txn`, on PostgreSQL: before a
/// rewrite reads the rows it changes.
pub(crate) async fn shared<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    take(txn, "SELECT pg_advisory_xact_lock_shared($1)").await
}

/// Takes the lock exclusively for the transaction `txn`, on PostgreSQL:
/// before a sealing round reads the entries it seals. Waits for the rewrites
/// under way.
#[cfg(feature = "seal")]
pub(crate) async fn exclusive<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    take(txn, "SELECT pg_advisory_xact_lock($1)").await
}

async fn take<C: ConnectionTrait>(txn: &C, sql: &str) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [KEY.into()],
        ))
        .await?;
    }
    Ok(())
}

/// How a transaction that reads entries to rewrite, delete or seal them
/// starts, so that the rows it reads stay as read until it commits: MySQL
/// runs it at `READ COMMITTED`, so that its `FOR UPDATE` reads lock the rows
/// they read rather than the gaps between them too, and inserts keep
/// flowing; SQLite, which has no row locks, takes its write lock when the
/// transaction starts.
pub(crate) fn row_locking(backend: DbBackend) -> TransactionOptions {
    match backend {
        DbBackend::Sqlite => TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        },
        DbBackend::MySql => TransactionOptions {
            isolation_level: Some(IsolationLevel::ReadCommitted),
            ..TransactionOptions::default()
        },
        _ => TransactionOptions::default(),
    }
}
