//! `log_activity_in`: logging inside the caller's own transaction.

use sea_orm::{ConnectionTrait, DbErr};
use tower_activity::{ActivityEvent, prepare_event};

use crate::sink::insert_events;

/// Writes `event` through `db`, typically the caller's open transaction, so it
/// commits or rolls back with the business change it records.
///
/// The event is first filled from the current request context (actor, tenant,
/// request id, IP, user agent, method, route) and redacted and capped, as
/// [`log_activity`](tower_activity::log_activity) would do (see
/// [`prepare_event`]). It is not queued: it is written at once, and the
/// written event is returned.
///
/// The [`EventPolicy`](tower_activity::EventPolicy) and the
/// [`Catalogue`](tower_activity::Catalogue) that apply are those of the
/// current context's recorder, else the one of the
/// [global recorder](tower_activity::set_global_recorder), else the default
/// policy and no catalogue. A strict catalogue's refusal is a
/// [`DbErr::Custom`] naming the action and the key, returned before anything
/// is written; a lenient one marks the event and writes it. A background job that runs outside any context with a recorder,
/// in an application that sets no global recorder, therefore gets the
/// default policy, not the one your recorder was built with: set the global
/// recorder, or run the job in an
/// [`ActivityContext::with_recorder`](tower_activity::ActivityContext::with_recorder)
/// scope, to apply yours.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sea_orm::TransactionTrait;
/// use sea_orm_activity::{log_activity_in, ActivityMigrator};
/// use sea_orm_migration::MigratorTrait;
/// use tower_activity::{Action, ActivityEvent};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ActivityMigrator::up(&db, None).await?;
///
/// let txn = db.begin().await?;
/// // ... the business change, through `txn` ...
/// let event = ActivityEvent::builder(Action::Update)
///     .resource("invoice", "inv_7")
///     .detail("password", "hunter2")
///     .build()?;
/// let written = log_activity_in(&txn, event).await?;
/// txn.commit().await?;
///
/// assert_eq!(written.details.unwrap().get("password").unwrap(), "[REDACTED]");
/// # Ok(()) }
/// ```
pub async fn log_activity_in<C: ConnectionTrait>(
    db: &C,
    event: ActivityEvent,
) -> Result<ActivityEvent, DbErr> {
    let event = prepare_event(event).map_err(|violation| DbErr::Custom(violation.to_string()))?;
    insert_events(db, std::slice::from_ref(&event)).await?;
    Ok(event)
}
