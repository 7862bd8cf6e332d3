//! Streaming a filtered range of the log out as JSON lines or CSV.

use std::io;

use sea_orm::DbErr;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tower_activity::export::ExportFormat;
use tower_activity::{ActivityFilter, Order};

use crate::store::{SeaOrmStore, read};

/// An export that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the log failed.
    #[error("reading the activity log failed")]
    Database(#[from] DbErr),
    /// Writing the output failed.
    #[error("writing the export failed")]
    Write(#[from] io::Error),
}

impl SeaOrmStore {
    /// Writes the events matching `filter`, oldest first, to `out` in
    /// `format`, and returns how many were written.
    ///
    /// The range is read in keyset chunks of
    /// [`chunk_size`](SeaOrmStore::chunk_size) events, each written before the
    /// next is read, so an export of any size holds one chunk in memory. Events
    /// inserted during the export are included when they match the filter and
    /// come after the chunk being read; set [`ActivityFilter::until`] to
    /// export a fixed range.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sea_orm_activity::{log_activity_in, ActivityMigrator, ExportFormat, SeaOrmStore};
    /// use sea_orm_migration::MigratorTrait;
    /// use tower_activity::{Action, ActivityEvent, ActivityFilter};
    ///
    /// let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// ActivityMigrator::up(&db, None).await?;
    /// let event = ActivityEvent::builder(Action::Create).resource("note", "=cmd()").build()?;
    /// log_activity_in(&db, event).await?;
    ///
    /// let mut csv = Vec::new();
    /// let store = SeaOrmStore::new(db);
    /// let written = store.export(&ActivityFilter::new(), ExportFormat::Csv, &mut csv).await?;
    /// assert_eq!(written, 1);
    /// assert!(String::from_utf8(csv)?.contains(",'=cmd(),"));
    /// # Ok(()) }
    /// ```
    pub async fn export<W>(
        &self,
        filter: &ActivityFilter,
        format: ExportFormat,
        out: &mut W,
    ) -> Result<u64, ExportError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        self.export_with_progress(filter, format, out, |_| {}).await
    }

    /// [`export`](Self::export), calling `progress` with the number of events
    /// written so far after each chunk.
    pub async fn export_with_progress<W>(
        &self,
        filter: &ActivityFilter,
        format: ExportFormat,
        out: &mut W,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<u64, ExportError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let mut written = 0;
        let mut after = None;
        let mut chunk = Vec::new();
        loop {
            let events = read(&self.db, filter, Order::OldestFirst, after, self.chunk_size).await?;
            chunk.clear();
            // The first chunk carries the CSV header, even when it is empty.
            format.encode_chunk(&events, after.is_none(), &mut chunk)?;
            out.write_all(&chunk).await?;
            written += events.len() as u64;
            progress(written);
            if events.len() < self.chunk_size {
                break;
            }
            after = events.last().map(|event| event.id);
        }
        out.flush().await?;
        Ok(written)
    }
}
