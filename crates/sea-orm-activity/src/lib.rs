//! Storage for [tower-activity] in SQLite, PostgreSQL or MySQL / MariaDB
//! through [sea-orm]: the `activity_log` table and its migration, a batching
//! sink for the recorder, logging inside your own transaction, keyset queries
//! and counts, GDPR anonymization, retention and export — and the
//! `activity-log` command for operators.
//!
//! - [`migrations`] go into your `Migrator`; [`ActivityMigrator`] is a
//!   standalone one with its own migrations table. [`CreateActivityLog`]
//!   makes the table, [`AddCategory`] adds the catalogue's `category` column
//!   to tables made before it.
//! - [`SeaOrmStore`] is the [recorder](tower_activity::Recorder)'s sink (each
//!   batch one transaction of multi-row inserts, idempotent on the event id)
//!   and an [`ActivityStore`](tower_activity::ActivityStore) to read the log.
//! - [`log_activity_in`] writes an event inside the caller's transaction: a
//!   rollback leaves no record, a commit keeps it.
//! - [`SeaOrmStore::anonymize`] erases a data subject's personal data and
//!   keeps the entries; [`SeaOrmStore::prune`] and [`RetentionJob`] enforce a
//!   [`RetentionPolicy`]; [`SeaOrmStore::export`] streams JSON lines or CSV.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sea_orm::TransactionTrait;
//! use sea_orm_activity::{log_activity_in, ActivityMigrator, SeaOrmStore};
//! use sea_orm_migration::MigratorTrait;
//! use tower_activity::{
//!     log_activity, Action, ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Actor, Recorder,
//! };
//!
//! let db = sea_orm::Database::connect("sqlite::memory:").await?;
//! ActivityMigrator::up(&db, None).await?;
//! let store = SeaOrmStore::new(db.clone());
//!
//! // Fire and forget: batched into the table off the request path.
//! let recorder = Recorder::builder(store.clone()).spawn();
//! tower_activity::set_global_recorder(recorder.clone());
//! log_activity(ActivityEvent::builder("auth.login.succeeded").actor(Actor::user("u_42")).build()?)?;
//!
//! // With the business change: committed or rolled back together.
//! let txn = db.begin().await?;
//! let event = ActivityEvent::builder(Action::Delete).resource("invoice", "inv_9").actor(Actor::user("u_42")).build()?;
//! log_activity_in(&txn, event).await?;
//! txn.rollback().await?;
//!
//! recorder.shutdown().await;
//! let page = store.list(&ActivityQuery::new(ActivityFilter::new().actor("u_42"))).await?;
//! assert_eq!(page.events.len(), 1);
//! assert_eq!(page.events[0].action.as_str(), "auth.login.succeeded");
//! # Ok(()) }
//! ```
//!
//! ## Drivers and features
//!
//! The library enables no sea-orm driver or runtime: the application chooses
//! them (for example `sea-orm/sqlx-postgres` and `sea-orm/runtime-tokio`).
//!
//! - `seal`: the tamper-evident log: a `Sealer` covering every entry with a
//!   signed seal, and `SeaOrmStore::verify`. The tables it writes come with
//!   the migrations ([`AddSeals`]) whatever the features.
//! - `cli`: the `activity-log` binary (`migrate`, `query`, `tail`, `stats`,
//!   `export`, `prune`, `anonymize`, `verify`, `checkpoint`), with the SQLite,
//!   PostgreSQL and MySQL drivers and the Tokio runtime; it turns `seal` on.
//!
//! ## The table
//!
//! `activity_log` has one column per event field (see [`entity::Model`]):
//! the id is a UUID (PostgreSQL `uuid`, MySQL `binary(16)`, SQLite blob), the
//! time is UTC with microseconds, `details` is `jsonb` on PostgreSQL and JSON
//! elsewhere. Indexes on (tenant, id), (actor, id), (resource type, resource
//! id, id), (ip, id), request id and time serve the filtered pages, the
//! lookups and retention.
//!
//! [tower-activity]: tower_activity
//! [sea-orm]: sea_orm

#![cfg_attr(docsrs, feature(doc_cfg))]

// The test-support harness refers to this crate by name.
#[cfg(test)]
extern crate self as sea_orm_activity;

mod anonymize;
mod anonymize_policy;
mod anonymize_words;
pub mod entity;
mod export;
mod filter;
#[cfg(test)]
mod index_use_tests;
mod ip_condition;
mod migration;
mod pg_arrays;
mod retention;
mod retention_job;
mod rewrite_lock;
mod seal;
mod search_condition;
mod sink;
mod sink_error;
mod store;
#[cfg(test)]
#[path = "../tests/it/support.rs"]
mod support;
mod transactional;

pub use crate::anonymize::{ANONYMIZED, ANONYMIZED_ACTION, AnonymizeError, DEFAULT_PERSONAL_KEYS};
pub use crate::anonymize_policy::AnonymizePolicy;
pub use crate::export::ExportError;
pub use crate::migration::{
    ActivityMigrator, AddCategory, AddFilterIndexes, AddSeals, CreateActivityLog, MIGRATIONS_TABLE,
    migrations,
};
pub use crate::retention::{DEFAULT_RULE, PRUNED_ACTION, RetentionError, RetentionPolicy, RetentionReport};
pub use crate::retention_job::{RetentionJob, RetentionJobHandle};
pub use crate::seal::prune_record::SEALED_PRUNE_ACTION;
#[cfg(feature = "seal")]
#[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
pub use crate::seal::{
    DEFAULT_CHAIN, SealError, Sealer, SealerHandle, Tamper, VerifyOptions, VerifyReport, VerifyScope,
};
pub use crate::store::{DEFAULT_CHUNK_PAUSE, DEFAULT_CHUNK_SIZE, SeaOrmStore};
pub use crate::transactional::log_activity_in;
pub use tower_activity::export::{ExportFormat, UnknownExportFormat};
